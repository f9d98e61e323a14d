//! A loss-curve PNG without font or plotting dependencies: train (blue) and validation (orange) loss per epoch,
//! with the y range and epoch count written in a tiny built-in digit font.

use std::path::Path;

use anyhow::{Context as _, Result};

use crate::checkpoint::atomic_write;
use crate::train::EpochMetrics;

const W: usize = 640;
const H: usize = 360;
const MARGIN: usize = 40;

/// 3×5 glyphs for `0-9`, `.` and ` `.
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        _ => [0; 5],
    }
}

struct Canvas(Vec<u8>);

impl Canvas {
    fn set(&mut self, x: i64, y: i64, rgb: [u8; 3]) {
        if (0..W as i64).contains(&x) && (0..H as i64).contains(&y) {
            let i = 3 * (y as usize * W + x as usize);
            self.0[i..i + 3].copy_from_slice(&rgb);
        }
    }
    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), rgb: [u8; 3]) {
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()) as usize).max(1);
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let (x, y) = ((x0 + t * (x1 - x0)) as i64, (y0 + t * (y1 - y0)) as i64);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1)] {
                self.set(x + dx, y + dy, rgb);
            }
        }
    }
    fn text(&mut self, x: usize, y: usize, s: &str) {
        for (k, c) in s.chars().enumerate() {
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in 0..3 {
                    if bits & (4 >> col) != 0 {
                        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                            self.set(
                                (x + 8 * k + 2 * col + dx) as i64,
                                (y + 2 * row + dy) as i64,
                                [60, 60, 60],
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Writes the curve of `history` to `path` (atomically).
pub fn loss_curve(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    let mut c = Canvas(vec![255; W * H * 3]);
    let values = history
        .iter()
        .flat_map(|m| [m.train_loss, m.val_loss])
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let (x0, x1, y0, y1) = (MARGIN as f64, (W - 10) as f64, (H - MARGIN) as f64, 10.0);
    c.line((x0, y0), (x1, y0), [150; 3]);
    c.line((x0, y0), (x0, y1), [150; 3]);
    let n = history.len().max(2) - 1;
    let px = |i: usize| x0 + (x1 - x0) * i as f64 / n as f64;
    let py = |v: f64| y0 + (y1 - y0) * (v - lo) / (hi - lo);
    for (series, rgb) in [(0, [31, 119, 180]), (1, [255, 127, 14])] {
        let v = |m: &EpochMetrics| {
            if series == 0 {
                m.train_loss
            } else {
                m.val_loss
            }
        };
        for (i, w) in history.windows(2).enumerate() {
            c.line((px(i), py(v(&w[0]))), (px(i + 1), py(v(&w[1]))), rgb);
        }
        for (i, m) in history.iter().enumerate() {
            for d in -2..=2 {
                c.set(px(i) as i64 + d, py(v(m)) as i64, rgb);
                c.set(px(i) as i64, py(v(m)) as i64 + d, rgb);
            }
        }
    }
    c.text(2, 8, &format!("{hi:.2}"));
    c.text(2, H - MARGIN - 10, &format!("{lo:.2}"));
    c.text(W - 40, H - MARGIN + 8, &format!("{}", history.len()));
    c.text(MARGIN, H - MARGIN + 8, "1");
    atomic_write(path, |tmp| {
        let file =
            std::fs::File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), W as u32, H as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()?.write_image_data(&c.0)?;
        Ok(())
    })
}
