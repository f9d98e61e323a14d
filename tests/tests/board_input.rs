//! What a person types at the board: the firmware's line editor and `:command` parser, compiled for the host.
//! Both files use only `core` and `heapless`, so the code tested here is the code the board runs (the QEMU
//! session in `cargo xtask test` checks it end to end over a serial port).

#[allow(dead_code)] // reason: the firmware uses every item; this test exercises the parser through `parse`
#[path = "../../firmware-example/src/command.rs"]
mod command;
#[path = "../../firmware-example/src/line.rs"]
mod line;

use command::{parse, Bad, Line, Setting};
use line::{Editor, Event, LINE_BYTES};
use proptest::prelude::*;

/// Feeds `bytes` to a fresh editor; the lines (or errors) it completes and everything it echoed.
fn typed(bytes: &[u8]) -> (Vec<Result<String, String>>, Vec<u8>) {
    let mut e = Editor::default();
    let (mut out, mut echo) = (Vec::new(), Vec::new());
    for &b in bytes {
        match e.push(b, |s| echo.extend_from_slice(s)) {
            Event::Pending => {}
            Event::Line(l) => out.push(Ok(l.to_string())),
            Event::TooLong => out.push(Err("too long".into())),
            Event::NotUtf8 => out.push(Err("not utf-8".into())),
        }
    }
    (out, echo)
}

#[test]
fn lines_end_at_cr_lf_or_crlf_and_backspace_removes_a_character() {
    let (lines, echo) = typed(b"abc\r\n:temp 0.8\nxyz\rab\x7fc\n\xc3\xa9\x08!\n");
    let lines: Vec<String> = lines.into_iter().map(Result::unwrap).collect();
    assert_eq!(lines, ["abc", ":temp 0.8", "xyz", "ac", "!"]);
    // What was typed comes back, each line end as CR LF, each backspace as "\x08 \x08".
    assert!(echo.starts_with(b"abc\r\n:temp 0.8\r\nxyz\r\nab\x08 \x08c\r\n"));
}

#[test]
fn a_line_too_long_or_not_utf8_is_refused_whole_and_the_next_one_is_fine() {
    let mut bytes = vec![b'a'; LINE_BYTES + 10];
    bytes.extend_from_slice(b"\nok\n\xff\xfe\nagain\n");
    let (lines, _) = typed(&bytes);
    assert_eq!(
        lines,
        [
            Err("too long".to_string()),
            Ok("ok".to_string()),
            Err("not utf-8".to_string()),
            Ok("again".to_string())
        ]
    );
}

#[test]
fn commands_parse_and_bad_ones_say_what_they_take() {
    assert_eq!(parse("  The people "), Ok(Line::Prompt("The people")));
    assert_eq!(parse(""), Ok(Line::Empty));
    assert_eq!(parse(":temp 0.8"), Ok(Line::Set(Setting::Temperature(0.8))));
    assert_eq!(parse(":topk 40"), Ok(Line::Set(Setting::TopK(40))));
    assert_eq!(parse(":topp 0.9"), Ok(Line::Set(Setting::TopP(0.9))));
    assert_eq!(parse(":penalty 1.3"), Ok(Line::Set(Setting::Penalty(1.3))));
    assert_eq!(parse(":seed 7"), Ok(Line::Set(Setting::Seed(7))));
    assert_eq!(parse(":words 60"), Ok(Line::Set(Setting::Words(60))));
    for (line, want) in [
        (":more", Line::More),
        (":reset", Line::Reset),
        (":show", Line::Show),
        (":help", Line::Help),
    ] {
        assert_eq!(parse(line), Ok(want));
    }
    assert_eq!(parse(":bogus 1"), Err(Bad::Unknown("bogus")));
    for (line, command) in [
        (":temp", "temp"),
        (":temp -1", "temp"),
        (":temp NaN", "temp"),
        (":topp 0", "topp"),
        (":topp 1.5", "topp"),
        (":penalty 0.5", "penalty"),
        (":words 0", "words"),
        (":words 5000", "words"),
        (":seed x", "seed"),
        (":topk 4 0", "topk"),
        (":reset now", "reset"),
    ] {
        match parse(line) {
            Err(Bad::Value { command: c, takes }) => {
                assert_eq!(c, command, "{line}");
                assert!(!takes.is_empty());
            }
            other => panic!("{line}: {other:?}"),
        }
    }
    assert_eq!(
        parse(":temp abc").unwrap_err().to_string(),
        ":temp takes a number >= 0, e.g. :temp 0.8"
    );
    assert_eq!(
        parse(":nope").unwrap_err().to_string(),
        "unknown command :nope (:help lists them)"
    );
}

proptest! {
    #[test]
    fn any_bytes_never_panic_and_every_line_fits(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let (lines, _) = typed(&bytes);
        for l in lines.into_iter().flatten() {
            prop_assert!(l.len() <= LINE_BYTES);
            let _ = parse(&l);
        }
    }

    #[test]
    fn typed_lines_come_back_as_typed(
        lines in proptest::collection::vec("[^\\r\\n\\x08\\x7f]{1,80}", 1..8),
        ends in proptest::collection::vec(0..3usize, 8),
    ) {
        let mut bytes = Vec::new();
        for (l, e) in lines.iter().zip(&ends) {
            bytes.extend_from_slice(l.as_bytes());
            bytes.extend_from_slice([&b"\r"[..], b"\n", b"\r\n"][*e]);
        }
        let (got, _) = typed(&bytes);
        let want: Vec<Result<String, String>> = lines
            .iter()
            .map(|l| if l.len() > LINE_BYTES { Err("too long".into()) } else { Ok(l.clone()) })
            .collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn temperatures_parse_back(t in 0.0f32..100.0) {
        let line = format!(":temp {t}");
        prop_assert_eq!(parse(&line), Ok(Line::Set(Setting::Temperature(t))));
    }
}
