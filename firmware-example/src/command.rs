//! What a line typed at the board's prompt asks for: text to continue, or a `:command` that changes the sampler
//! or the state. Parsing only; `app` carries it out.

/// A parsed line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Line<'a> {
    /// Continue this text (the state goes on from the last reply unless `:reset`).
    Prompt(&'a str),
    /// Nothing typed.
    Empty,
    /// Write `:words` more tokens from where the text stands.
    More,
    /// Clear the state (and restart the sampler's random numbers from the seed).
    Reset,
    /// Change a setting.
    Set(Setting),
    /// Print the settings.
    Show,
    /// Print the commands.
    Help,
}

/// A setting `:name value` changes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Setting {
    /// `:temp T` — softmax temperature, 0 = greedy.
    Temperature(f32),
    /// `:topk K` — sample among the K most likely tokens, 0 = off.
    TopK(u32),
    /// `:topp P` — nucleus sampling, 1 = off.
    TopP(f32),
    /// `:penalty R` — repetition penalty, 1 = off.
    Penalty(f32),
    /// `:seed S` — restart the random numbers from S.
    Seed(u64),
    /// `:words N` — tokens per reply.
    Words(usize),
}

/// Most tokens per reply.
pub const MAX_WORDS: usize = 4096;

/// Why a line is not a command; its `Display` is the one-line error the board prints.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bad<'a> {
    /// `:name` is not a command.
    Unknown(&'a str),
    /// The command's value is missing or not what it takes.
    Value {
        /// The command.
        command: &'a str,
        /// What it takes, with an example.
        takes: &'static str,
    },
}

impl core::fmt::Display for Bad<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unknown(c) => write!(f, "unknown command :{c} (:help lists them)"),
            Self::Value { command, takes } => write!(f, ":{command} takes {takes}"),
        }
    }
}

/// The commands, one line each, as `:help` prints them.
pub const HELP: &[&str] = &[
    "text        continue it (from where the last reply stopped; :reset to start afresh)",
    ":more       write :words more tokens",
    ":reset      clear the state and restart the random numbers from the seed",
    ":temp T     temperature, 0 = greedy (e.g. :temp 0.8)",
    ":topk K     sample among the K most likely tokens, 0 = off (e.g. :topk 40)",
    ":topp P     nucleus sampling in (0, 1], 1 = off (e.g. :topp 0.9)",
    ":penalty R  repetition penalty >= 1, 1 = off (e.g. :penalty 1.3)",
    ":seed S     restart the random numbers from S (e.g. :seed 7)",
    ":words N    tokens per reply, 1..=4096 (e.g. :words 60)",
    ":show       the settings",
    ":help       this list",
];

/// `arg` parsed as a `T` that is `ok`, or what `command` takes.
fn number<'a, T: core::str::FromStr>(
    arg: Option<&str>,
    ok: impl Fn(&T) -> bool,
    command: &'a str,
    takes: &'static str,
) -> Result<T, Bad<'a>> {
    arg.and_then(|a| a.parse::<T>().ok())
        .filter(|v| ok(v))
        .ok_or(Bad::Value { command, takes })
}

/// Parses one line (without its line end).
pub fn parse(line: &str) -> Result<Line<'_>, Bad<'_>> {
    let line = line.trim();
    let Some(command) = line.strip_prefix(':') else {
        return Ok(if line.is_empty() {
            Line::Empty
        } else {
            Line::Prompt(line)
        });
    };
    let mut words = command.split_whitespace();
    let name = words.next().unwrap_or("");
    let arg = words.next();
    let extra = words.next().is_some();
    let setting = match name {
        "temp" => Setting::Temperature(number(
            arg,
            |t: &f32| *t >= 0.0 && t.is_finite(),
            name,
            "a number >= 0, e.g. :temp 0.8",
        )?),
        "topk" => Setting::TopK(number(
            arg,
            |_: &u32| true,
            name,
            "a whole number >= 0, e.g. :topk 40",
        )?),
        "topp" => Setting::TopP(number(
            arg,
            |p: &f32| *p > 0.0 && *p <= 1.0,
            name,
            "a number in (0, 1], e.g. :topp 0.9",
        )?),
        "penalty" => Setting::Penalty(number(
            arg,
            |r: &f32| *r >= 1.0 && r.is_finite(),
            name,
            "a number >= 1, e.g. :penalty 1.3",
        )?),
        "seed" => Setting::Seed(number(
            arg,
            |_: &u64| true,
            name,
            "a whole number >= 0, e.g. :seed 7",
        )?),
        "words" => Setting::Words(number(
            arg,
            |n: &usize| (1..=MAX_WORDS).contains(n),
            name,
            "a whole number in 1..=4096, e.g. :words 60",
        )?),
        plain => {
            let line = match plain {
                "more" => Line::More,
                "reset" => Line::Reset,
                "show" => Line::Show,
                "help" => Line::Help,
                other => return Err(Bad::Unknown(other)),
            };
            if arg.is_some() {
                return Err(Bad::Value {
                    command: plain,
                    takes: "no value",
                });
            }
            return Ok(line);
        }
    };
    if extra {
        return Err(Bad::Value {
            command: name,
            takes: "one value",
        });
    }
    Ok(Line::Set(setting))
}
