//! Token streams to training batches: truncated-BPTT windows (`stream`) or padded sentences (`sentence`).

use quill_core::Rng;
use tch::{Device, Tensor};

use crate::vocab::Encoded;

/// How much context the model sees.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum Context {
    /// State resets at every sentence (the seed's setting); padded batches of sentences with masked targets.
    Sentence,
    /// One continuous text: B parallel streams, windows of T tokens, state carried between windows.
    Stream,
}

/// Splits an encoded corpus: the last `val_frac` for validation, cut at a sentence end when one is near.
pub fn split(enc: &Encoded, val_frac: f64) -> (Encoded, Encoded) {
    let n = enc.ids.len();
    let mut cut = ((n as f64) * (1.0 - val_frac)).round() as usize;
    cut = cut.min(n);
    // Move the cut forward to just after a sentence end (at most 200 tokens), so validation starts a sentence.
    if let Some(k) = enc
        .sentence_end
        .get(cut.saturating_sub(1)..n.min(cut + 200))
        .and_then(|s| s.iter().position(|&e| e))
    {
        cut = (cut + k).min(n);
    }
    (enc.slice(0..cut), enc.slice(cut..n))
}

/// Sentences (each ends at a sentence-end token or at the end), cut into pieces of at most `max_len` tokens.
pub fn sentences(enc: &Encoded, max_len: usize) -> Vec<&[u32]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &end) in enc.sentence_end.iter().enumerate() {
        if end || i + 1 == enc.ids.len() {
            for chunk in enc.ids[start..=i].chunks(max_len.max(2)) {
                if chunk.len() >= 2 {
                    out.push(chunk);
                }
            }
            start = i + 1;
        }
    }
    out
}

/// One batch: inputs (B, T), targets (B, T) with -100 where there is nothing to predict.
pub struct Batch {
    /// Token ids.
    pub xs: Tensor,
    /// Next-token ids or -100.
    pub ys: Tensor,
    /// Whether the LSTM state carries over from the previous batch.
    pub carry: bool,
    /// Number of targets that are not -100 (counted on the host, so nobody waits for the device to count them).
    pub targets: i64,
}

/// The batches of one epoch.
pub fn batches(
    enc: &Encoded,
    context: Context,
    batch: usize,
    seq: usize,
    epoch_seed: u64,
    shuffle: bool,
    device: Device,
) -> Vec<Batch> {
    match context {
        Context::Stream => {
            let per = (enc.ids.len().saturating_sub(1)) / batch.max(1);
            if per < 2 {
                return Vec::new();
            }
            let mut out = Vec::new();
            let mut off = 0;
            while off + 1 < per {
                let t = seq.min(per - 1 - off);
                let mut xs = Vec::with_capacity(batch * t);
                let mut ys = Vec::with_capacity(batch * t);
                for b in 0..batch {
                    let base = b * per + off;
                    xs.extend(enc.ids[base..base + t].iter().map(|&v| i64::from(v)));
                    ys.extend(
                        enc.ids[base + 1..base + t + 1]
                            .iter()
                            .map(|&v| i64::from(v)),
                    );
                }
                out.push(Batch {
                    xs: Tensor::from_slice(&xs)
                        .reshape([batch as i64, t as i64])
                        .to_device(device),
                    ys: Tensor::from_slice(&ys)
                        .reshape([batch as i64, t as i64])
                        .to_device(device),
                    carry: off > 0,
                    targets: (batch * t) as i64,
                });
                off += t;
            }
            out
        }
        Context::Sentence => {
            let mut sents = sentences(enc, seq + 1);
            if shuffle {
                let mut rng = Rng::new(epoch_seed);
                for i in (1..sents.len()).rev() {
                    let j = (rng.next_u32() as usize) % (i + 1);
                    sents.swap(i, j);
                }
            }
            sents
                .chunks(batch.max(1))
                .map(|group| {
                    let t = group.iter().map(|s| s.len() - 1).max().unwrap_or(1);
                    let mut xs = vec![0i64; group.len() * t];
                    let mut ys = vec![-100i64; group.len() * t];
                    for (b, s) in group.iter().enumerate() {
                        for k in 0..s.len() - 1 {
                            xs[b * t + k] = i64::from(s[k]);
                            ys[b * t + k] = i64::from(s[k + 1]);
                        }
                    }
                    let shape = [group.len() as i64, t as i64];
                    Batch {
                        xs: Tensor::from_slice(&xs).reshape(shape).to_device(device),
                        ys: Tensor::from_slice(&ys).reshape(shape).to_device(device),
                        carry: false,
                        targets: group.iter().map(|s| s.len() as i64 - 1).sum(),
                    }
                })
                .collect()
        }
    }
}
