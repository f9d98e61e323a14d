//! Reading corpora: files, folders and globs, decoded as UTF-8 or Latin-1.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// How corpus bytes are decoded.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum Encoding {
    /// UTF-8; invalid bytes are an error naming the file and offset.
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// ISO-8859-1: every byte is the code point of the same value (what the seed notebook read).
    #[value(name = "latin1", alias = "iso-8859-1")]
    Latin1,
}

/// Expands files, folders (all `.txt` files below, sorted) and glob patterns into a sorted list of files.
pub fn expand(inputs: &[String]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        let path = Path::new(input);
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            if found.is_empty() {
                bail!("folder {input} has no .txt files; pass the text files themselves or a glob such as '{input}/*'");
            }
            found.sort();
            files.extend(found);
        } else if path.is_file() {
            files.push(path.to_path_buf());
        } else if input.contains(['*', '?', '[']) {
            let mut found: Vec<PathBuf> = glob::glob(input)
                .with_context(|| format!("bad glob pattern {input}"))?
                .filter_map(Result::ok)
                .filter(|p| p.is_file())
                .collect();
            if found.is_empty() {
                bail!("glob {input} matches no files");
            }
            found.sort();
            files.extend(found);
        } else {
            bail!("corpus input {input} does not exist (pass files, folders or quoted globs)");
        }
    }
    if files.is_empty() {
        bail!("no corpus given: pass text files, folders or globs");
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("reading folder {}", dir.display()))?
    {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "txt") {
            out.push(path);
        }
    }
    Ok(())
}

/// Decodes bytes; `name` is used in the error.
pub fn decode(bytes: Vec<u8>, encoding: Encoding, name: &str) -> Result<String> {
    match encoding {
        Encoding::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
        Encoding::Utf8 => String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            anyhow::anyhow!(
                "{name} is not valid UTF-8 (byte offset {at}); if it is Latin-1/ISO-8859-1 text, pass --encoding latin1"
            )
        }),
    }
}

/// Reads and concatenates files (separated by a blank line, so no sentence runs across files).
pub fn read_all(files: &[PathBuf], encoding: Encoding) -> Result<String> {
    let mut text = String::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        text.push_str(&decode(bytes, encoding, &f.display().to_string())?);
        text.push_str("\n\n");
    }
    Ok(text)
}
