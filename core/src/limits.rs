//! Every fixed limit of quill-core in one place: what a model file may declare and what the fixed buffers hold.

/// Largest accepted vocabulary V (keeps every index product far from overflow).
pub const MAX_VOCAB: u32 = 1 << 22;
/// Largest accepted embedding width E or hidden width H.
pub const MAX_WIDTH: u32 = 1 << 14;
/// Most recurrent layers a model may have.
pub const MAX_LAYERS: usize = 4;
/// Bytes of prompt text [`Generator::prime`](crate::Generator::prime) can normalize (two buffers of this size
/// live on the stack meanwhile).
pub const PROMPT_BYTES: usize = 1024;
/// Most recent tokens the repetition penalty can look back over.
pub const MAX_PENALTY_WINDOW: usize = 64;
/// Candidates top-p sampling considers when `top_k` is 0 (the same on every platform, so the text is too).
pub const TOP_P_CANDIDATES: usize = 64;
