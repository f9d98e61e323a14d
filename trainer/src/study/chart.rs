//! `study.png`: six panels of horizontal bars, one row per arm — held-out bits per character, the samples'
//! fluency, distinct-3, repeated 4-grams, greedy words before a loop, seconds per epoch — with the held-out
//! text's own value (or the reference's) as a dashed line where there is one.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::report::Report;
use super::samples::Summary;
use crate::plot::{font, write_png, FONT};

const W: u32 = 1500;
const H: u32 = 960;
const GREEDY: RGBColor = RGBColor(31, 119, 180);
const SAMPLED: RGBColor = RGBColor(230, 110, 0);
const ONE: RGBColor = RGBColor(44, 160, 44);
const MARK: RGBColor = RGBColor(120, 120, 120);

/// One panel: bars per arm (one or two series), a dashed marker line.
struct Panel<'a> {
    title: &'a str,
    series: Vec<(&'a str, RGBColor, Vec<f64>)>,
    marker: Option<(f64, &'a str)>,
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    root: &DrawingArea<BitMapBackend<'_>, Shift>,
    names: &[String],
    p: &Panel<'_>,
) -> Result<()> {
    let err = |e: DrawingAreaErrorKind<_>| anyhow!("drawing the study chart: {e}");
    let n = names.len().max(1) as f64;
    let values = p.series.iter().flat_map(|s| s.2.iter().copied());
    let top = values
        .chain(p.marker.map(|m| m.0))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    // Room on the right for the legend, when there is one, so it covers no bar.
    let legend = p.series.len() > 1 || p.marker.is_some();
    let top = if top > 0.0 {
        top * if legend { 1.8 } else { 1.18 }
    } else {
        1.0
    };
    let mut chart = ChartBuilder::on(area)
        .caption(p.title, (FONT, 19))
        .margin(10)
        .margin_left(150)
        .x_label_area_size(28)
        .y_label_area_size(8)
        .build_cartesian_2d(0.0..top, 0.0..n)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .label_style((FONT, 13))
        .x_labels(6)
        .x_label_formatter(&|x| format!("{x:.2}"))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    let k = p.series.len().max(1) as f64;
    let band = 0.8 / k;
    for (j, (label, color, vals)) in p.series.iter().enumerate() {
        // Arm i's bars fill [i + 0.1, i + 0.9] from the top, one band per series.
        let bars = vals
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, &v)| {
                let y0 = n - i as f64 - 0.1 - j as f64 * band;
                Rectangle::new([(0.0, y0 - band), (v, y0)], color.filled())
            });
        let drawn = chart.draw_series(bars).map_err(err)?;
        if p.series.len() > 1 {
            drawn.label(*label).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
            });
        }
    }
    if let Some((v, label)) = p.marker {
        chart
            .draw_series(DashedLineSeries::new(
                [(v, 0.0), (v, n)],
                6,
                4,
                MARK.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(|(x, y)| PathElement::new([(x, y), (x + 14, y)], MARK.stroke_width(2)));
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(190, 190, 190))
            .draw()
            .map_err(err)?;
    }
    // Arm names left of the plotting area, centred on their rows (drawn on the whole picture).
    let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, name) in names.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, n - i as f64 - 0.5));
        root.draw(&Text::new(name.clone(), (x - 6, y), style.clone()))
            .map_err(err)?;
    }
    Ok(())
}

/// The free-running measure `f` of each arm in one mode (NaN where the arm has none).
fn per_arm(r: &Report, greedy: bool, f: fn(&Summary) -> f64) -> Vec<f64> {
    r.arms
        .iter()
        .map(|a| {
            let s = if greedy { &a.greedy } else { &a.sampled };
            s.as_ref().map_or(f64::NAN, f)
        })
        .collect()
}

/// The picture as RGB bytes.
pub fn render(r: &Report) -> Result<Vec<u8>> {
    font();
    let names: Vec<String> = r.arms.iter().map(|a| a.name.clone()).collect();
    let held = &r.reference.held_out;
    let two = |f: fn(&Summary) -> f64| {
        vec![
            ("greedy", GREEDY, per_arm(r, true, f)),
            ("temperature 1.0", SAMPLED, per_arm(r, false, f)),
        ]
    };
    let panels = [
        Panel {
            title: "held-out bits per character (teacher-forced; lower is better)",
            series: vec![(
                "",
                ONE,
                r.arms.iter().map(|a| a.val_bits_per_char).collect(),
            )],
            marker: Some((r.reference.val_bits_per_char, "reference model")),
        },
        Panel {
            title: "samples' fluency: reference bits/char (lower reads like the corpus)",
            series: two(|s| s.fluency_bits_per_char),
            marker: Some((held.fluency_bits_per_char, "held-out text")),
        },
        Panel {
            title: "distinct-3 of words (higher is more varied)",
            series: two(|s| s.distinct3),
            marker: Some((held.distinct3, "held-out text")),
        },
        Panel {
            title: "repeated 4-grams of words (lower repeats less)",
            series: two(|s| s.repeated4),
            marker: Some((held.repeated4, "held-out text")),
        },
        Panel {
            title: "greedy: words before a loop (higher is better)",
            series: vec![("", GREEDY, per_arm(r, true, |s| s.words_before_loop))],
            marker: Some((r.sample_words as f64, "sample length (no loop)")),
        },
        Panel {
            title: "training: seconds per epoch",
            series: vec![(
                "",
                ONE,
                r.arms.iter().map(|a| a.seconds_per_epoch).collect(),
            )],
            marker: None,
        },
    ];
    let mut buf = vec![255u8; (W * H * 3) as usize];
    {
        let err = |e: DrawingAreaErrorKind<_>| anyhow!("drawing the study chart: {e}");
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let title = format!(
            "quill study: {} prompts × {} words per arm and mode",
            r.prompts.len(),
            r.sample_words
        );
        let body = root.titled(&title, (FONT, 24)).map_err(err)?;
        for (area, p) in body.split_evenly((2, 3)).iter().zip(&panels) {
            draw_panel(area, &root, &names, p)?;
        }
        root.present().map_err(err)?;
    }
    Ok(buf)
}

/// Writes `study.png`.
pub fn write(path: &Path, r: &Report) -> Result<()> {
    write_png(path, W, H, &render(r)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::plan::Size;
    use crate::study::report::{ArmRow, ReferenceRow};

    fn summary(f: f64) -> Summary {
        Summary {
            samples: 2,
            words: 300,
            fluency_bits_per_char: f,
            distinct2: 0.8,
            distinct3: 0.9,
            repeated4: 0.1,
            loops: 1,
            words_before_loop: 120.0,
        }
    }

    #[test]
    fn draws_a_bar_per_arm_and_mode_with_labels() {
        let arm = |name: &str, sampled: Option<Summary>| ArmRow {
            name: name.to_string(),
            cell: "gru".into(),
            forcing: "teacher".into(),
            level: "word".into(),
            params: 1,
            model_bytes: 1,
            epochs: 1,
            best_epoch: 1,
            seconds_per_epoch: 10.0,
            tokens_per_s: 1.0,
            val_ppl: 100.0,
            val_bits_per_char: 1.9,
            self_fed: None,
            discriminator_accuracy: None,
            greedy: Some(summary(2.0)),
            sampled,
        };
        let report = Report {
            size: Size::Small,
            corpus: vec![],
            text_chars: 1,
            sample_words: 300,
            ss_min: 0.0,
            pf_weight: 1.0,
            prompts: vec!["a".into(); 2],
            levels: vec![],
            reference: ReferenceRow {
                params: 1,
                hidden: 1,
                layers: 2,
                seconds_per_epoch: 1.0,
                val_bits_per_char: 1.5,
                held_out: summary(1.7),
            },
            arms: vec![
                arm("gru-teacher-word", Some(summary(2.4))),
                arm("lstm-teacher-word", None),
            ],
            seconds: 1.0,
            training_seconds: 1.0,
        };
        let rgb = render(&report).unwrap();
        let count = |c: RGBColor| rgb.chunks(3).filter(|p| p == &[c.0, c.1, c.2]).count();
        assert!(count(GREEDY) > 5000, "greedy bars in four panels");
        assert!(
            count(SAMPLED) > 2000,
            "one arm's temperature-1 bars in three panels"
        );
        assert!(count(ONE) > 2000, "bits/char and seconds bars");
        let dark = rgb.chunks(3).filter(|p| p.iter().all(|&v| v < 80)).count();
        assert!(
            dark > 5000,
            "titles, arm names and axis labels: {dark} dark pixels"
        );
    }
}
