//! `quill`: train Embedding-LSTM-Dense text generators with libtorch, export int8 models for `quill-core`,
//! generate, evaluate and inspect. The binary (`main.rs`) only wires these modules to the command line.

pub mod adam;
pub mod checkpoint;
pub mod clean;
pub mod commands;
pub mod corpus;
pub mod data;
pub mod export;
pub mod net;
pub mod plot;
pub mod train;
pub mod vocab;
