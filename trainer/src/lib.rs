//! `quill`: train Embedding-LSTM-Dense text generators with libtorch, export int8 models for `quill-core`,
//! generate, evaluate and inspect. The binary (`main.rs`) only wires [`commands`] to the command line.
//!
//! Modules by role, each depending only on those above it:
//!
//! * [`atomic`] — atomic file writes; [`corpus`] — files to text; [`vocab`] — vocabulary and encoding;
//! * [`settings`] — run settings, their one validation, per-epoch metrics; [`data`] — tokens to batches;
//! * [`dataset`] — corpus to tokens (cleaning with quill-core's normalizer, `--max-sentences`);
//! * [`net`] — the libtorch network and its one-step logits; [`adam`] — the optimizer;
//! * [`checkpoint`] — save, load, resolve a run folder; [`source`] — what a path on the command line names;
//! * [`perplexity`] — loss through libtorch and through quill-core; [`export`] — checkpoint to model file;
//! * [`plot`] — the loss curve; [`train`] — the training loop; [`generate`] — text through either engine;
//! * [`forcing`], [`professor`] — scheduled sampling and Professor Forcing; [`freerun`] — measures of free text;
//! * [`study`] — the forcing × cell × level study (`quill study`);
//! * [`bpe`] — byte-pair encoding: learning merges, the reference encoder (not yet wired into training: #11);
//! * [`commands`] — one file per subcommand.

pub mod adam;
pub mod atomic;
pub mod bpe;
pub mod checkpoint;
pub mod commands;
pub mod corpus;
pub mod data;
pub mod dataset;
pub mod export;
pub mod forcing;
pub mod freerun;
pub mod generate;
pub mod net;
pub mod perplexity;
pub mod plot;
pub mod professor;
pub mod settings;
pub mod source;
pub mod study;
pub mod train;
pub mod vocab;
