//! Round trips and hostile bytes: loading never panics and reports what is wrong.

use proptest::prelude::*;
use quill_core::testing::{exercise, random_cell, random_model, with_header};
use quill_core::ModelBuilder;
use quill_core::{DType, Error, Generator, Hyper, Model, ModelKind, SamplerConfig, TensorName};

/// Two layers, untied, int8: the model most tests corrupt.
fn small_builder() -> ModelBuilder {
    random_model(
        Hyper {
            vocab: 40,
            embed: 12,
            hidden: 16,
            layers: 2,
        },
        false,
        DType::I8RowScaled,
        9,
    )
}

fn small() -> Vec<u8> {
    small_builder().to_bytes().unwrap()
}

/// [`small_builder`] with GRU layers.
fn small_gru() -> Vec<u8> {
    let b = small_builder();
    random_cell(ModelKind::Gru, b.hyper, false, DType::I8RowScaled, 9)
        .to_bytes()
        .unwrap()
}

/// [`small_builder`] with GRU layers and int4 weights.
fn small_int4() -> Vec<u8> {
    let b = small_builder();
    random_cell(ModelKind::Gru, b.hyper, false, DType::I4GroupScaled, 9)
        .to_bytes()
        .unwrap()
}

/// One layer, V=20, E=H=8: for building invalid variants.
fn tiny_builder(tied: bool, dtype: DType) -> ModelBuilder {
    random_model(
        Hyper {
            vocab: 20,
            embed: 8,
            hidden: 8,
            layers: 1,
        },
        tied,
        dtype,
        1,
    )
}

#[test]
fn round_trip_preserves_everything() {
    let b = small_builder();
    let bytes = b.to_bytes().unwrap();
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m.hyper(), b.hyper);
    assert_eq!(m.tokenizer(), b.tokenizer);
    assert_eq!(m.vocab().iter().collect::<Vec<_>>(), b.vocab);
    for (i, t) in b.vocab.iter().enumerate() {
        assert_eq!(m.vocab().lookup(t), Some(i as u32));
    }
    assert_eq!(m.vocab().lookup("nope"), None);
    assert_eq!(m.meta(), b.meta);
    assert!(!m.tied() && m.is_quantized());
    assert_eq!(m.file_len(), bytes.len());
    // Re-encoding the same parts gives the same bytes.
    assert_eq!(b.to_bytes().unwrap(), bytes);
}

#[test]
fn tied_models_need_equal_widths() {
    let mut b = tiny_builder(true, DType::I8RowScaled);
    let m_bytes = b.to_bytes().unwrap();
    assert!(Model::from_bytes(&m_bytes).unwrap().tied());
    b.hyper.hidden = 9;
    assert!(matches!(b.to_bytes(), Err(Error::ShapeMismatch { .. })));
}

#[test]
fn errors_name_the_problem() {
    let bytes = small();
    assert_eq!(
        Model::from_bytes(&bytes[..10]).unwrap_err(),
        Error::Truncated {
            needed: 16,
            found: 10
        }
    );
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert_eq!(Model::from_bytes(&bad).unwrap_err(), Error::BadMagic);
    let mut bad = bytes.clone();
    bad[4] = 9;
    assert_eq!(
        Model::from_bytes(&bad).unwrap_err(),
        Error::UnsupportedVersion {
            found: 9,
            supported: 2
        }
    );
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(
        Model::from_bytes(&bad).unwrap_err(),
        Error::ChecksumMismatch { .. }
    ));
    assert!(matches!(
        Model::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err(),
        Error::Truncated { .. }
    ));

    let mut b = tiny_builder(false, DType::I8RowScaled);
    b.layers[0].bias.pop();
    assert_eq!(
        b.to_bytes().unwrap_err(),
        Error::ShapeMismatch {
            tensor: TensorName::LstmBias(0),
            expected: 128,
            found: 124
        }
    );
    let mut b = tiny_builder(false, DType::I8RowScaled);
    b.embedding.scales[3] = f32::NAN;
    assert_eq!(
        b.to_bytes().unwrap_err(),
        Error::NonFiniteParameter {
            tensor: TensorName::Embedding
        }
    );
    let mut b = tiny_builder(false, DType::I8RowScaled);
    b.vocab[5] = b.vocab[6].clone();
    assert_eq!(b.to_bytes().unwrap_err(), Error::UnsortedIndex);
    b.vocab[5] = String::new();
    assert_eq!(b.to_bytes().unwrap_err(), Error::BadVocabulary);
}

#[test]
fn capacity_errors_are_reported() {
    let bytes = small();
    let m = Model::from_bytes(&bytes).unwrap();
    let e = Generator::<8, 2, 4>::new(&m, SamplerConfig::GREEDY, 0).unwrap_err();
    assert_eq!(
        e,
        Error::CapacityTooSmall {
            what: "hidden",
            needed: 16,
            capacity: 8
        }
    );
    let e = Generator::<16, 1, 4>::new(&m, SamplerConfig::GREEDY, 0).unwrap_err();
    assert_eq!(
        e,
        Error::CapacityTooSmall {
            what: "layers",
            needed: 2,
            capacity: 1
        }
    );
    let cfg = SamplerConfig {
        top_k: 5,
        temperature: 1.0,
        ..SamplerConfig::GREEDY
    };
    let e = Generator::<16, 2, 4>::new(&m, cfg, 0).unwrap_err();
    assert_eq!(
        e,
        Error::CapacityTooSmall {
            what: "top_k",
            needed: 5,
            capacity: 4
        }
    );
    let f = tiny_builder(false, DType::F32).to_bytes().unwrap();
    let f = Model::from_bytes(&f).unwrap();
    assert_eq!(
        Generator::<8, 1, 4>::new(&f, SamplerConfig::GREEDY, 0).unwrap_err(),
        Error::NotQuantized
    );
    assert!(Generator::<8, 1, 4>::new_float(&f, SamplerConfig::GREEDY, 0).is_ok());
}

/// Every single-byte corruption of the payload is either caught by the checksum, or (with the checksum fixed up,
/// to reach the decoder) rejected with an error or loaded as a valid model that generates without panicking.
/// Generation is run for every byte of the first kilobyte (header, shapes, tokenizer, vocabulary) and every
/// fifth byte after it (weights, whose corruption the decoder cannot see).
#[test]
fn every_byte_corruption_is_an_error_never_a_panic() {
    corrupt_every_byte(&small());
    corrupt_every_byte(&small_gru());
    corrupt_every_byte(&small_int4());
}

fn corrupt_every_byte(bytes: &[u8]) {
    for i in 0..bytes.len() {
        let mut bad = bytes.to_vec();
        bad[i] ^= 0x5A;
        assert!(
            Model::from_bytes(&bad).is_err(),
            "flip at {i} went unnoticed"
        );
        if i >= 16 && (i < 1024 || i % 5 == 0) {
            let crc = quill_core::crc32(&bad[16..]);
            bad[12..16].copy_from_slice(&crc.to_le_bytes());
            exercise(&bad);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(mut data in proptest::collection::vec(any::<u8>(), 0..600), fix_header in any::<bool>()) {
        if fix_header {
            data = with_header(&data);
        }
        exercise(&data);
    }

    #[test]
    fn mutated_models_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), which in 0..3u8) {
        let mut bytes = match which { 0 => small(), 1 => small_gru(), _ => small_int4() };
        for (at, v) in edits {
            let i = 16 + at.index(bytes.len() - 16);
            bytes[i] = v;
        }
        let crc = quill_core::crc32(&bytes[16..]);
        bytes[12..16].copy_from_slice(&crc.to_le_bytes());
        exercise(&bytes);
    }
}

#[test]
fn new_error_variants_say_what_was_found() {
    let bytes = small();
    // Bytes past the announced payload: how many.
    let mut long = bytes.clone();
    long.extend_from_slice(&[0; 3]);
    assert_eq!(
        Model::from_bytes(&long).unwrap_err(),
        Error::TrailingBytes { count: 3 }
    );
    // Bytes after the model inside a correctly checksummed payload: how many.
    let mut payload = bytes[16..].to_vec();
    payload.extend_from_slice(&[7, 7]);
    assert_eq!(
        Model::from_bytes(&with_header(&payload)).unwrap_err(),
        Error::TrailingBytes { count: 2 }
    );
    // A model kind this build does not know (the payload's first varint).
    let mut payload = bytes[16..].to_vec();
    payload[0] = 5;
    assert_eq!(
        Model::from_bytes(&with_header(&payload)).unwrap_err(),
        Error::UnsupportedModelKind { found: 5 }
    );
    // Reserved flags.
    let mut flagged = bytes.clone();
    flagged[6] = 2;
    assert_eq!(
        Model::from_bytes(&flagged).unwrap_err(),
        Error::UnsupportedFlags { found: 2 }
    );
    // -128 has its own variant with the position of the weight.
    let mut b = tiny_builder(false, DType::I8RowScaled);
    b.layers[0].w_hh.data[17] = 0x80;
    assert_eq!(
        b.to_bytes().unwrap_err(),
        Error::WeightOutOfRange {
            tensor: TensorName::LstmHidden(0),
            index: 17
        }
    );
    // A writer that refuses the echo is a write error, not a capacity error.
    struct Full;
    impl core::fmt::Write for Full {
        fn write_str(&mut self, _: &str) -> core::fmt::Result {
            Err(core::fmt::Error)
        }
    }
    let m = Model::from_bytes(&bytes).unwrap();
    let mut g = Generator::<16, 2, 4>::new(&m, SamplerConfig::GREEDY, 0).unwrap();
    assert_eq!(
        g.prime("the people", &mut Full, |_| {}).unwrap_err(),
        Error::WriteFailed
    );
    for e in [
        Error::TrailingBytes { count: 3 },
        Error::UnsupportedModelKind { found: 5 },
        Error::UnsupportedFlags { found: 2 },
        Error::WriteFailed,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

/// The header and the first payload fields of a tiny model, byte for byte as `core/FORMAT.md` describes them.
#[test]
fn header_bytes_match_format_md() {
    let bytes = quill_core::testing::tiny_model_bytes();
    let n = (bytes.len() - 16) as u32;
    let crc = quill_core::crc32(&bytes[16..]);
    let mut header = Vec::new();
    header.extend_from_slice(b"QUIL"); // magic
    header.extend_from_slice(&[2, 0]); // format version 2, u16 LE
    header.extend_from_slice(&[0, 0]); // flags
    header.extend_from_slice(&n.to_le_bytes()); // payload length
    header.extend_from_slice(&crc.to_le_bytes()); // CRC-32 of the payload
    assert_eq!(&bytes[..16], &header[..]);
    assert_eq!(
        n, 13_088,
        "payload length of tiny_model_bytes (V=64, E=H=32, tied, int8)"
    );
    assert_eq!(crc, CRC_V2, "payload CRC-32 of tiny_model_bytes");
    #[rustfmt::skip]
    let fields = [
        0x00,             // kind: 0 = LSTM
        0x40, 0x20, 0x20, // hyper: V = 64, E = 32, H = 32 (varints)
        0x01,             // layers = 1
        0x00, 0x01,       // tokenizer.level = word, profile = default
        0x00, 0x00,       // unknown = Map(0)
        0x01, 0x01,       // sentence_end = Some(1)
        0x01,             // capitalize = true
        0x84, 0x02,       // vocab.offsets: 260 bytes = (V + 1) u32
        0x00, 0x00, 0x00, 0x00, // off[0] = 0
    ];
    assert_eq!(&bytes[16..16 + fields.len()], &fields);
}

/// The payload CRC-32 of `tiny_model_bytes` in format version 2.
const CRC_V2: u32 = 0x5340_A7B2;

/// A version-1 file written before version 2 existed (`tests/fixtures/v1-tiny.quill`, the bytes of
/// `tiny_model_bytes` at format version 1) loads, and generates what the same weights in version 2 generate.
#[test]
fn version_1_files_still_load_and_generate_the_same() {
    let v1 = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/v1-tiny.quill"
    ))
    .unwrap();
    assert_eq!(&v1[4..6], &[1, 0], "the fixture is a version-1 file");
    let v2 = quill_core::testing::tiny_model_bytes();
    let (old, new) = (
        Model::from_bytes(&v1).unwrap(),
        Model::from_bytes(&v2).unwrap(),
    );
    assert_eq!((old.format_version(), new.format_version()), (1, 2));
    assert_eq!((old.kind(), old.hyper()), (ModelKind::Lstm, new.hyper()));
    let config = SamplerConfig {
        temperature: 0.9,
        top_k: 8,
        ..SamplerConfig::GREEDY
    };
    let text = |m: &Model| {
        let mut g: Generator<64, 1, 8> = Generator::new(m, config, 3).unwrap();
        let mut s = String::new();
        g.prime("the people", &mut s, |_| {}).unwrap();
        g.generate(40, &mut s).unwrap();
        s
    };
    assert_eq!(text(&old), text(&new));
    // Version 1 has no GRU: kind 1 in a version-1 payload is refused as a kind, not as garbage.
    let mut payload = v1[16..].to_vec();
    payload[0] = 1;
    let mut file = v1[..16].to_vec();
    file[8..12].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    file[12..16].copy_from_slice(&quill_core::crc32(&payload).to_le_bytes());
    file.extend_from_slice(&payload);
    assert_eq!(
        Model::from_bytes(&file).unwrap_err(),
        Error::UnsupportedModelKind { found: 1 }
    );
}

#[test]
fn gru_files_round_trip_and_name_their_tensors() {
    let bytes = small_gru();
    let m = Model::from_bytes(&bytes).unwrap();
    assert_eq!(m.kind(), ModelKind::Gru);
    // V·E + 2 layers × (3H·in + 3H·H + 3H + H) + V·H + V.
    let (v, e, h) = (40, 12, 16);
    let layer = |input: usize| 3 * h * input + 3 * h * h + 3 * h + h;
    assert_eq!(m.parameter_count(), v * e + layer(e) + layer(h) + v * h + v);
    let hyper = small_builder().hyper;
    let mut b = random_cell(ModelKind::Gru, hyper, false, DType::I8RowScaled, 9);
    b.layers[1].bias_hn.pop();
    assert_eq!(
        b.to_bytes().unwrap_err(),
        Error::ShapeMismatch {
            tensor: TensorName::GruHiddenBias(1),
            expected: 64,
            found: 60
        }
    );
    let mut b = random_cell(ModelKind::Gru, hyper, false, DType::I8RowScaled, 9);
    b.layers[0].w_hh = random_model(hyper, false, DType::I8RowScaled, 9).layers[0]
        .w_hh
        .clone();
    assert_eq!(
        b.to_bytes().unwrap_err(),
        Error::ShapeMismatch {
            tensor: TensorName::GruHidden(0),
            expected: 48 * 16,
            found: 64 * 16
        }
    );
    // An LSTM layer carries no b_hn.
    let mut b = small_builder();
    b.layers[0].bias_hn = vec![0.0; 16];
    assert_eq!(
        b.to_bytes().unwrap_err(),
        Error::ShapeMismatch {
            tensor: TensorName::LstmBias(0),
            expected: 0,
            found: 64
        }
    );
}

#[test]
fn whole_rows_read_as_their_weights_do() {
    // Embedding widths around the 32-column groups, vocabularies around the 32-row blocks, every dtype: the
    // embedding lookup (`row_f32`) gives each weight exactly as `get_f32` does.
    for (vocab, embed) in [(20, 8), (33, 31), (64, 32), (70, 33), (97, 100)] {
        for dtype in [DType::F32, DType::I8RowScaled, DType::I4GroupScaled] {
            let hyper = Hyper {
                vocab,
                embed,
                hidden: 8,
                layers: 1,
            };
            let bytes = random_model(hyper, false, dtype, 3).to_bytes().unwrap();
            let model = Model::from_bytes(&bytes).unwrap();
            for t in model.matrices() {
                let mut row = vec![f32::NAN; t.cols() + 3];
                for r in 0..t.rows() {
                    t.row_f32(r, &mut row);
                    for (c, v) in row.iter().enumerate().take(t.cols()) {
                        assert_eq!(
                            v.to_bits(),
                            t.get_f32(r, c).to_bits(),
                            "{dtype:?} {}x{} ({r}, {c})",
                            t.rows(),
                            t.cols()
                        );
                    }
                    assert!(
                        row[t.cols()..].iter().all(|v| v.is_nan()),
                        "wrote past cols"
                    );
                }
                // A shorter output takes a prefix.
                let mut short = [f32::NAN; 5];
                t.row_f32(0, &mut short);
                let n = t.cols().min(5);
                assert!((0..n).all(|c| short[c].to_bits() == t.get_f32(0, c).to_bits()));
            }
        }
    }
}
