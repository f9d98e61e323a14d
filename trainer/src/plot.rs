//! The loss curve a person reads at a glance (`loss.png` in the run folder): training loss through each epoch
//! (the mean of each hundredth), validation loss per epoch, the best epoch marked, legend and axis titles.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Context as _, Result};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::atomic;
use crate::settings::EpochMetrics;

const W: u32 = 960;
const H: u32 = 540;
/// The one font family of every picture (the embedded Ubuntu Light).
pub(crate) const FONT: &str = "sans-serif";
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VAL: RGBColor = RGBColor(230, 110, 0);
const BEST: RGBColor = RGBColor(44, 160, 44);

/// Registers the embedded font once (plotters' `ab_glyph` backend has no system fonts).
pub(crate) fn font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = register_font(FONT, FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT);
    });
}

/// The training curve as (epoch position, loss): point `k` of `n` in epoch `e` sits at `e - 1 + (k + 0.5) / n`.
/// Epochs from before the curve was recorded contribute their mean at the epoch's middle.
fn train_points(history: &[EpochMetrics]) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for m in history {
        let start = m.epoch as f64 - 1.0;
        if m.train_curve.is_empty() {
            pts.push((start + 0.5, m.train_loss));
        }
        let n = m.train_curve.len() as f64;
        for (k, &l) in m.train_curve.iter().enumerate() {
            pts.push((start + (k as f64 + 0.5) / n, f64::from(l)));
        }
    }
    pts.retain(|p| p.1.is_finite());
    pts
}

/// Writes the curve of `history` to `path` as a PNG (atomically).
pub fn loss_curve(path: &Path, history: &[EpochMetrics]) -> Result<()> {
    write_png(path, W, H, &render(history)?)
}

/// Writes `rgb` (row-major, `w` × `h`) to `path` as a PNG, atomically.
pub(crate) fn write_png(path: &Path, w: u32, h: u32, rgb: &[u8]) -> Result<()> {
    atomic::write_with(path, |tmp| {
        let file =
            std::fs::File::create(tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()?.write_image_data(rgb)?;
        Ok(())
    })
}

/// The picture as RGB bytes, row-major.
fn render(history: &[EpochMetrics]) -> Result<Vec<u8>> {
    font();
    let train = train_points(history);
    let val: Vec<(f64, f64)> = history
        .iter()
        .map(|m| (m.epoch as f64, m.val_loss))
        .filter(|p| p.1.is_finite())
        .collect();
    let best = val.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
    let ys = train.iter().chain(&val).map(|p| p.1);
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo < hi {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let pad = 0.06 * (hi - lo);
    let epochs = history.last().map_or(1, |m| m.epoch).max(1) as f64;
    let mut buf = vec![255u8; (W * H * 3) as usize];
    {
        let err = |e: DrawingAreaErrorKind<_>| anyhow!("drawing the loss curve: {e}");
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("quill train: loss", (FONT, 26))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..epochs, (lo - pad)..(hi + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("cross-entropy (nats per token)")
            .axis_desc_style((FONT, 18))
            .label_style((FONT, 15))
            .x_labels((epochs as usize + 1).min(12))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.2}"))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                train.iter().copied(),
                TRAIN.stroke_width(2),
            ))
            .map_err(err)?
            .label("training loss (mean of each 1% of an epoch)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], TRAIN.stroke_width(3)));
        chart
            .draw_series(LineSeries::new(val.iter().copied(), VAL.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(val.iter().map(|&p| Circle::new(p, 5, VAL.filled())))
            .map_err(err)?
            .label("validation loss (end of each epoch)")
            .legend(|(x, y)| Circle::new((x + 12, y), 5, VAL.filled()));
        if let Some((x, y)) = best {
            chart
                .draw_series([PathElement::new(
                    [(x, lo - pad), (x, hi + pad)],
                    BEST.mix(0.5).stroke_width(1),
                )])
                .map_err(err)?;
            chart
                .draw_series([Circle::new((x, y), 9, BEST.stroke_width(3))])
                .map_err(err)?
                .label(format!(
                    "best: epoch {x:.0}, validation loss {y:.3} (perplexity {:.1})",
                    y.exp()
                ))
                .legend(|(x, y)| Circle::new((x + 12, y), 7, BEST.stroke_width(3)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(e: usize, val: f64) -> EpochMetrics {
        EpochMetrics {
            epoch: e,
            train_loss: 6.0 - e as f64,
            train_acc: 0.1,
            val_loss: val,
            val_acc: 0.1,
            val_ppl: val.exp(),
            val_bits_per_char: None,
            tokens_per_s: 1.0,
            seconds: 1.0,
            train_curve: (0..100)
                .map(|k| (7.0 - e as f64 - k as f64 / 100.0) as f32)
                .collect(),
            scheduled: None,
            professor: None,
        }
    }

    #[test]
    fn draws_curves_text_and_the_best_epoch() {
        let h = [epoch(1, 5.0), epoch(2, 4.5), epoch(3, 4.7)];
        let rgb = render(&h).unwrap();
        let count = |c: RGBColor| rgb.chunks(3).filter(|p| p == &[c.0, c.1, c.2]).count();
        assert!(count(TRAIN) > 500, "training curve drawn");
        assert!(count(VAL) > 100, "validation points drawn");
        assert!(count(BEST) > 50, "best epoch marked");
        let dark = rgb.chunks(3).filter(|p| p.iter().all(|&v| v < 80)).count();
        assert!(
            dark > 2000,
            "text (title, axis titles, labels, legend) drawn: {dark} dark pixels"
        );
        assert_eq!(train_points(&h).len(), 300);
        let dir = std::env::temp_dir().join(format!("quill-plot-{}", std::process::id()));
        loss_curve(&dir.join("loss.png"), &h).unwrap();
        assert!(std::fs::read(dir.join("loss.png"))
            .unwrap()
            .starts_with(b"\x89PNG"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
