//! The application, the same on every board: load the model from flash, then either continue the built-in
//! prompt once and report what it cost (`batch`), or serve prompts typed on the serial port (`interactive`).

use core::fmt::Write;

use quill_core::{Error, Generator, Model, SamplerConfig};

use crate::board::Board;
use crate::command::{self, Line, Setting};
use crate::line::{Editor, Event};
use crate::{report, settings};

/// Generator capacities: width 128, one layer, 64 sampling candidates.
type Gen<'m> = Generator<'m, 128, 1, 64>;

/// Tokens timed one by one in `batch` mode.
const TIMED: usize = 256;

/// The serial port as a `fmt::Write`, with `\n` sent as CR LF for terminals.
struct Serial<'b, B: Board>(&'b mut B);

impl<B: Board> Write for Serial<'_, B> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if b == b'\n' {
                self.0.write_byte(b'\r');
            }
            self.0.write_byte(b);
        }
        Ok(())
    }
}

/// A `fmt::Write` that drops what it is given (the prompt's echo, when the terminal already shows it).
struct Sink;

impl Write for Sink {
    fn write_str(&mut self, _: &str) -> core::fmt::Result {
        Ok(())
    }
}

/// Runs the application on `board` with the model in `bytes`; never returns.
pub fn run<B: Board>(mut board: B, bytes: &'static [u8]) -> ! {
    let ok = match Model::from_bytes(bytes) {
        Ok(model) => {
            banner(&mut board, &model);
            if settings::INTERACTIVE {
                interactive(&mut board, &model)
            } else {
                batch(&mut board, &model).is_ok()
            }
        }
        Err(e) => {
            let _ = writeln!(
                Serial(&mut board),
                "error: the model in flash does not load: {e}"
            );
            false
        }
    };
    board.exit(ok)
}

fn banner<B: Board>(board: &mut B, model: &Model<'_>) {
    let hy = model.hyper();
    let clock = board.clock();
    let _ = writeln!(
        Serial(board),
        "quill on {}: {} E={} H={} V={} ({} bytes), clock {} Hz ({})",
        B::NAME,
        model.kind().name(),
        hy.embed,
        hy.hidden,
        hy.vocab,
        model.file_len(),
        clock.hz,
        clock.source
    );
}

/// Continues the built-in prompt, timing each token, then reports sizes and costs.
fn batch<B: Board>(board: &mut B, model: &Model<'_>) -> Result<(), ()> {
    let mut gen: Gen<'_> = match Generator::new(model, settings::CONFIG, settings::SEED) {
        Ok(g) => g,
        Err(e) => {
            let _ = writeln!(Serial(board), "error: {e}");
            return Err(());
        }
    };
    // The prompt's echo is kept until after its timing, so the serial port stays out of it.
    let mut echo: heapless::String<{ settings::PROMPT_CAPACITY }> = heapless::String::new();
    let t0 = board.now();
    gen.prime(settings::PROMPT, &mut echo, |_| {})
        .map_err(|_| ())?;
    let prime_ticks = board.elapsed(t0, board.now());
    let mut out = Serial(board);
    write!(out, "---TEXT---\n{echo}").map_err(|_| ())?;
    let mut ticks = [0u32; TIMED];
    let n = settings::WORDS.min(TIMED);
    for t in ticks.iter_mut().take(n) {
        let start = out.0.now();
        let id = gen.next_token();
        *t = out.0.elapsed(start, out.0.now());
        gen.write_token(id, &mut out).map_err(|_| ())?;
    }
    writeln!(out, "\n---END---").map_err(|_| ())?;
    let per = ticks.get_mut(..n).ok_or(())?;
    per.sort_unstable();
    let (min, med, max) = (
        per.first().copied().unwrap_or(0),
        per.get(n / 2).copied().unwrap_or(0),
        per.last().copied().unwrap_or(0),
    );
    let s = report::sections();
    let clock = out.0.clock();
    let _ = writeln!(
        out,
        "report board={} clock_hz={} clock_source={}",
        B::NAME,
        clock.hz,
        clock.source
    );
    let _ = writeln!(out, "report model_bytes={}", model.file_len());
    let _ = writeln!(out, "report text={} rodata={}", s.text, s.rodata);
    let _ = writeln!(out, "report data={} bss={}", s.data, s.bss);
    let _ = writeln!(out, "report stack_peak={}", report::stack_peak());
    let _ = writeln!(
        out,
        "report generator_bytes={}",
        core::mem::size_of_val(&gen)
    );
    let _ = writeln!(out, "report tokens={n} prime_ticks={prime_ticks}");
    let _ = writeln!(
        out,
        "report ticks_per_token min={min} median={med} max={max}"
    );
    Ok(())
}

/// The settings `:show` prints.
fn show<B: Board>(out: &mut Serial<'_, B>, c: &SamplerConfig, seed: u64, words: usize) {
    let _ = writeln!(
        out,
        "temp {} topk {} topp {} penalty {} seed {seed} words {words}",
        c.temperature, c.top_k, c.top_p, c.repetition_penalty
    );
}

/// Writes `words` tokens from where `gen` stands, then a line with their cost.
fn reply<B: Board>(out: &mut Serial<'_, B>, gen: &mut Gen<'_>, words: usize) {
    let mut ticks: u64 = 0;
    for _ in 0..words {
        let start = out.0.now();
        let id = gen.next_token();
        ticks += u64::from(out.0.elapsed(start, out.0.now()));
        let _ = gen.write_token(id, out);
    }
    let per = ticks / words.max(1) as u64;
    let hz = u64::from(out.0.clock().hz);
    match (per * 1_000_000).checked_div(hz) {
        Some(us) => {
            let _ = writeln!(
                out,
                "\n({words} tokens, {per} cycles = {}.{:03} ms per token at {} MHz)",
                us / 1000,
                us % 1000,
                hz / 1_000_000
            );
        }
        None => {
            let _ = writeln!(out, "\n({words} tokens, {per} cycles per token)");
        }
    }
}

/// Serves lines from the serial port for ever; `false` if the generator cannot be built.
fn interactive<B: Board>(board: &mut B, model: &Model<'_>) -> bool {
    let mut seed = settings::SEED;
    let mut words = settings::WORDS;
    let mut gen: Gen<'_> = match Generator::new(model, settings::CONFIG, seed) {
        Ok(g) => g,
        Err(e) => {
            let _ = writeln!(Serial(board), "error: {e}");
            return false;
        }
    };
    let _ = writeln!(
        Serial(board),
        "type text for the board to continue, or :help"
    );
    let mut editor = Editor::default();
    loop {
        let _ = write!(Serial(board), "> ");
        let line = loop {
            let byte = board.read_byte();
            match editor.push(byte, |echo| echo.iter().for_each(|&b| board.write_byte(b))) {
                Event::Pending => {}
                Event::Line(l) => break Ok(l),
                Event::TooLong => {
                    break Err("the line is longer than 256 bytes; type a shorter one")
                }
                Event::NotUtf8 => break Err("the line is not UTF-8; set the terminal to UTF-8"),
            }
        };
        let mut out = Serial(board);
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                let _ = writeln!(out, "error: {e}");
                continue;
            }
        };
        match command::parse(line) {
            Err(bad) => {
                let _ = writeln!(out, "error: {bad}");
            }
            Ok(Line::Empty) => {}
            Ok(Line::Help) => {
                for h in command::HELP {
                    let _ = writeln!(out, "{h}");
                }
            }
            Ok(Line::Show) => show(&mut out, gen.config(), seed, words),
            Ok(Line::Reset) => {
                gen.reset();
                let _ = writeln!(out, "ok: state cleared, seed {seed}");
            }
            Ok(Line::More) => reply(&mut out, &mut gen, words),
            Ok(Line::Prompt(text)) => {
                let mut unknown = 0usize;
                match gen.prime(text, &mut Sink, |_| unknown += 1) {
                    Ok(_) => {
                        if unknown > 0 {
                            let _ = writeln!(out, "note: {unknown} words not in the vocabulary");
                        }
                        reply(&mut out, &mut gen, words);
                    }
                    Err(e) => {
                        let _ = writeln!(out, "error: {e}");
                    }
                }
            }
            Ok(Line::Set(Setting::Seed(s))) => {
                seed = s;
                gen.reseed(s);
                let _ = writeln!(out, "ok: seed {s}");
            }
            Ok(Line::Set(Setting::Words(n))) => {
                words = n;
                let _ = writeln!(out, "ok: words {n}");
            }
            Ok(Line::Set(s)) => {
                let mut c = *gen.config();
                match s {
                    Setting::Temperature(t) => c.temperature = t,
                    Setting::TopK(k) => c.top_k = k,
                    Setting::TopP(p) => c.top_p = p,
                    Setting::Penalty(r) => c.repetition_penalty = r,
                    Setting::Seed(_) | Setting::Words(_) => {}
                }
                match gen.set_config(c) {
                    Ok(()) => show(&mut out, gen.config(), seed, words),
                    Err(Error::CapacityTooSmall {
                        what: "top_k",
                        capacity,
                        ..
                    }) => {
                        let _ = writeln!(out, "error: :topk takes at most {capacity} here (the generator's candidates)");
                    }
                    Err(e) => {
                        let _ = writeln!(out, "error: {e}");
                    }
                }
            }
        }
    }
}
