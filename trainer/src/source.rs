//! What a path on the command line names: a model file (`quill export`'s output), a checkpoint, or a run folder
//! (its `model.quill` when exported, else its best checkpoint).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::checkpoint;

/// A model to run.
pub enum Source {
    /// The bytes of a model file, and where they came from.
    Model(Vec<u8>, PathBuf),
    /// A checkpoint file.
    Checkpoint(PathBuf),
}

impl Source {
    /// Opens `path`: a model file by its magic bytes, a run folder by what it holds, anything else as a checkpoint
    /// (whose loader says what the file is when it is neither).
    pub fn open(path: &Path) -> Result<Self> {
        let model = if path.is_dir() {
            path.join("model.quill")
        } else {
            path.to_path_buf()
        };
        if model.is_file() {
            let bytes =
                std::fs::read(&model).with_context(|| format!("reading {}", model.display()))?;
            if checkpoint::is_model_file(&bytes) {
                return Ok(Self::Model(bytes, model));
            }
        }
        Ok(Self::Checkpoint(checkpoint::resolve(path)?))
    }

    /// The file it names.
    pub fn path(&self) -> &Path {
        match self {
            Self::Model(_, p) | Self::Checkpoint(p) => p,
        }
    }
}
