//! The training loop: epochs, validation, checkpoints, early stopping, Ctrl-C, NaN guard, progress, metrics.
//!
//! A step never waits for the host: loss and accuracy add up on the device and are read back once per
//! [`CURVE_POINTS`]-th of an epoch (for the progress line, the NaN guard and the loss curve).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tch::{Device, Kind, Tensor};

use crate::adam::Adam;
use crate::checkpoint::{self, Meta};
use crate::data::{self, Batch};
use crate::dataset;
use crate::forcing::{mixed_inputs, replaced, Forcing};
use crate::net::{correct as correct_of, detach, loss as loss_of, Net, NetConfig, State};
use crate::perplexity::evaluate;
use crate::plot;
use crate::professor::{free_run, Professor};
use crate::settings::{self, EpochMetrics, TrainSettings, CURVE_POINTS};
use crate::vocab::Encoded;

/// Options that are not stored in the checkpoint.
pub struct RunOptions {
    /// Run folder (checkpoints, metrics, plot).
    pub out: PathBuf,
    /// Continue from `out/last.ckpt`.
    pub resume: bool,
    /// Device name.
    pub device: String,
    /// Print one JSON object per epoch instead of text, and no progress bar.
    pub json: bool,
    /// Set when Ctrl-C was pressed.
    pub interrupt: Arc<AtomicBool>,
}

/// What a finished run produced.
pub struct Outcome {
    /// The best checkpoint.
    pub best: PathBuf,
    /// Metrics of every epoch.
    pub history: Vec<EpochMetrics>,
}

/// A run in memory: what the checkpoint holds plus the data.
struct Run {
    meta: Meta,
    /// The Professor Forcing discriminator (training-only), with `--forcing professor`.
    professor: Option<Professor>,
    net: Net,
    adam: Adam,
    train: Encoded,
    val: Encoded,
}

/// The discriminator for `settings` over `vocab` tokens (libtorch's RNG initializes it, right after the network).
fn professor_for(settings: &TrainSettings, vocab: usize, device: Device) -> Professor {
    Professor::new(
        vocab as i64,
        settings.hidden,
        settings.professor.width,
        settings.lr,
        device,
    )
}

/// A fresh run from `settings`, or the run in `out/last.ckpt` (`--epochs` raised to `settings.epochs`).
fn start(settings: &TrainSettings, opts: &RunOptions, device: Device) -> Result<Run> {
    if opts.resume {
        let (last, _) = checkpoint::paths(&opts.out);
        let ck = checkpoint::load(&last, device)
            .with_context(|| format!("--resume needs {} from an earlier run", last.display()))?;
        let mut s = ck.meta.settings.clone();
        s.epochs = settings.epochs.max(s.epochs);
        let (_, enc) = dataset::prepare(&s, Some(ck.meta.vocab.clone()))?;
        let (train, val) = data::split(&enc, s.val_split);
        let professor = match s.forcing {
            Forcing::Professor => {
                let mut p = professor_for(&s, ck.meta.vocab.len(), device);
                p.load_named(&ck.extra).with_context(|| {
                    format!(
                        "{} lacks the Professor Forcing discriminator this run trains with",
                        last.display()
                    )
                })?;
                Some(p)
            }
            _ => None,
        };
        let meta = Meta {
            settings: s,
            interrupted: false,
            ..ck.meta
        };
        return Ok(Run {
            meta,
            net: ck.net,
            adam: ck.adam,
            professor,
            train,
            val,
        });
    }
    let (vocab, enc) = dataset::prepare(settings, None)?;
    let (train, val) = data::split(&enc, settings.val_split);
    tch::manual_seed(settings.seed as i64);
    let cfg = NetConfig::from_settings(settings, vocab.len());
    let net = Net::new(cfg, device);
    let adam = Adam::new(&net.named_parameters(), settings.lr);
    let professor = (settings.forcing == Forcing::Professor)
        .then(|| professor_for(settings, vocab.len(), device));
    let meta = Meta {
        version: checkpoint::VERSION,
        net: cfg,
        settings: settings.clone(),
        vocab,
        epochs_done: 0,
        best_val: None,
        history: Vec::new(),
        interrupted: false,
    };
    Ok(Run {
        meta,
        net,
        adam,
        professor,
        train,
        val,
    })
}

/// Trains (or resumes) a run. `settings` must have passed [`TrainSettings::validate`].
pub fn run(settings: TrainSettings, opts: &RunOptions) -> Result<Outcome> {
    let device = settings::device(&opts.device)?;
    let Run {
        mut meta,
        net,
        mut adam,
        mut professor,
        train,
        val,
    } = start(&settings, opts, device)?;
    if val.ids.len() < 2 {
        bail!("the validation split is empty; raise --val-split or add text");
    }
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("creating {}", opts.out.display()))?;
    let (last_path, best_path) = checkpoint::paths(&opts.out);
    let s = meta.settings.clone();
    let keep = val.ids.len().min(50_000);
    let (val_tokens, val_ends) = (&val.ids[..keep], &val.sentence_end[..keep]);
    if !opts.json {
        eprintln!(
            "quill: {} train / {} val tokens, vocab {}, {} parameters, device {:?}",
            train.ids.len(),
            val.ids.len(),
            meta.vocab.len(),
            net.parameter_count(),
            device
        );
    }
    let mut metrics_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(opts.out.join("metrics.jsonl"))?;
    let val_chars = val.char_count();
    for epoch in meta.epochs_done + 1..=s.epochs {
        if let Some(last) = meta.history.last() {
            let spent: f64 = meta.history.iter().map(|m| m.seconds).sum();
            if s.max_minutes > 0.0 && spent + last.seconds > 60.0 * s.max_minutes {
                if !opts.json {
                    eprintln!(
                        "time budget: {:.1} of {} minutes spent; another epoch (~{:.0} s) would pass it, so training ends after epoch {}",
                        spent / 60.0,
                        s.max_minutes,
                        last.seconds,
                        epoch - 1
                    );
                }
                break;
            }
        }
        let started = Instant::now();
        tch::manual_seed(
            (s.seed as i64)
                .wrapping_mul(1_000_003)
                .wrapping_add(epoch as i64),
        );
        let batches = data::batches(
            &train,
            s.context,
            s.batch,
            s.seq_len,
            s.seed ^ (epoch as u64) << 32,
            true,
            device,
        );
        let bar = progress(
            batches.iter().map(|b| b.targets as u64).sum(),
            epoch,
            s.epochs,
            opts.json,
        );
        // Steps before this epoch: the schedule's clock (epochs have the same number of batches).
        let first_step = (epoch as u64 - 1) * batches.len() as u64;
        let trained = match train_epoch(
            &net,
            &mut adam,
            professor.as_mut(),
            &batches,
            &s,
            first_step,
            &bar,
            &opts.interrupt,
        ) {
            Ok(t) => t,
            Err(Stop::Interrupted) => {
                bar.abandon();
                meta.interrupted = true;
                checkpoint::save(
                    &last_path,
                    &meta,
                    &net,
                    &adam,
                    val_tokens,
                    val_ends,
                    &extra(&professor),
                )?;
                bail!(
                    "interrupted during epoch {epoch}; weights saved to {} (completed epochs: {}). \
                     `quill train --resume --out {}` continues from the last completed epoch's optimizer state",
                    last_path.display(),
                    meta.epochs_done,
                    opts.out.display()
                );
            }
            Err(Stop::NonFinite(lv)) => {
                bar.abandon();
                bail!(
                    "training loss became {lv} in epoch {epoch}; stopped. The last good checkpoint is {} — \
                     lower --lr or set --clip",
                    last_path.display()
                );
            }
        };
        bar.finish_and_clear();
        let train_secs = started.elapsed().as_secs_f64();
        let (val_loss, val_acc) = evaluate(&net, &val, s.context, s.batch, s.seq_len, device);
        let m = EpochMetrics {
            epoch,
            train_loss: trained.loss,
            train_acc: trained.acc,
            val_loss,
            val_acc,
            val_ppl: val_loss.exp(),
            val_bits_per_char: (val_chars > 0).then(|| {
                val_loss * val.ids.len() as f64 / val_chars as f64 / std::f64::consts::LN_2
            }),
            tokens_per_s: trained.targets as f64 / train_secs.max(1e-9),
            seconds: started.elapsed().as_secs_f64(),
            train_curve: trained.curve,
            scheduled: trained.scheduled,
            professor: trained.professor,
        };
        writeln!(metrics_file, "{}", serde_json::to_string(&m)?)?;
        if opts.json {
            println!("{}", serde_json::to_string(&m)?);
        } else {
            let own = m.scheduled.map_or(String::new(), |(eps, fed)| {
                format!(" | ε {eps:.3}, {:.1}% own inputs", 100.0 * fed)
            }) + &m.professor.map_or(String::new(), |(acc, open)| {
                format!(
                    " | discriminator accuracy {:.1}%, gate open {:.0}% of steps",
                    100.0 * acc,
                    100.0 * open
                )
            });
            let bpc = m
                .val_bits_per_char
                .map_or(String::new(), |b| format!(" {b:.3} bits/char"));
            eprintln!(
                "epoch {:>3}/{}: train loss {:.4} acc {:.3} | val loss {:.4} acc {:.3} ppl {:.1}{bpc} | {:.0} tokens/s, {:.1}s{own}",
                epoch, s.epochs, m.train_loss, m.train_acc, m.val_loss, m.val_acc, m.val_ppl, m.tokens_per_s, m.seconds
            );
        }
        meta.history.push(m);
        meta.epochs_done = epoch;
        let improved = meta.best_val.is_none_or(|(b, _)| val_loss < b);
        if improved {
            meta.best_val = Some((val_loss, epoch));
        }
        checkpoint::save(
            &last_path,
            &meta,
            &net,
            &adam,
            val_tokens,
            val_ends,
            &extra(&professor),
        )?;
        if improved {
            checkpoint::save(
                &best_path,
                &meta,
                &net,
                &adam,
                val_tokens,
                val_ends,
                &extra(&professor),
            )?;
        }
        plot::loss_curve(&opts.out.join("loss.png"), &meta.history)?;
        if let Some((_, best_epoch)) = meta.best_val {
            if s.patience > 0 && epoch >= best_epoch + s.patience {
                if !opts.json {
                    eprintln!("early stop: no better validation loss for {} epochs (best: epoch {best_epoch})", s.patience);
                }
                break;
            }
        }
    }
    Ok(Outcome {
        best: best_path,
        history: meta.history,
    })
}

/// What a checkpoint carries beside the network: the discriminator's state, if this run has one.
fn extra(professor: &Option<Professor>) -> Vec<(String, Tensor)> {
    professor
        .as_ref()
        .map_or_else(Vec::new, Professor::to_named)
}

/// Why an epoch stopped early.
enum Stop {
    /// Ctrl-C.
    Interrupted,
    /// The loss became NaN or infinite (its value).
    NonFinite(f64),
}

/// What one epoch of training measured.
struct Trained {
    loss: f64,
    acc: f64,
    targets: i64,
    curve: Vec<f32>,
    scheduled: Option<(f64, f64)>,
    professor: Option<(f64, f64)>,
}

/// One pass over `batches`: forward, loss, backward, clip, Adam. The loss adds up on the device and is read once
/// per run of `steps / CURVE_POINTS` steps, which makes the curve, feeds the progress line and checks for NaN;
/// the training accuracy is counted on the last batch of each such run (an argmax over every batch's logits
/// would cost a few percent of the step).
#[allow(clippy::too_many_arguments)] // reason: one epoch's inputs, each used once; a struct would only rename them
fn train_epoch(
    net: &Net,
    adam: &mut Adam,
    mut professor: Option<&mut Professor>,
    batches: &[Batch],
    s: &TrainSettings,
    first_step: u64,
    bar: &ProgressBar,
    interrupt: &AtomicBool,
) -> Result<Trained, Stop> {
    let params = net.named_parameters();
    let device = net.vs.device();
    let zero = || Tensor::zeros([], (Kind::Double, device));
    let chunk = batches.len().div_ceil(CURVE_POINTS).max(1);
    let (mut run_loss, mut correct, mut sampled) = (zero(), zero(), 0i64);
    let (mut run_targets, mut total_loss, mut targets) = (0i64, 0.0, 0i64);
    let mut curve = Vec::new();
    let mut state: Option<State> = None;
    let curve_point = |i: usize| (i + 1).is_multiple_of(chunk) || i + 1 == batches.len();
    let (mut own_fed, mut own_points, mut last_eps) = (0.0, 0usize, 1.0);
    let (mut judged_acc, mut judged_in, mut judged) = (0.0, 0usize, 0usize);
    for (i, b) in batches.iter().enumerate() {
        if interrupt.load(Ordering::SeqCst) {
            return Err(Stop::Interrupted);
        }
        let st = match (&state, b.carry) {
            (Some(st), true) => detach(st),
            _ => net.zero_state(b.xs.size()[0]),
        };
        let xs = match s.forcing {
            Forcing::Teacher | Forcing::Professor => b.xs.shallow_clone(),
            Forcing::Scheduled => {
                let eps = s.schedule.epsilon(first_step + i as u64);
                let xs = mixed_inputs(net, &b.xs, &st, eps);
                if curve_point(i) {
                    own_fed += replaced(&xs, &b.xs);
                    own_points += 1;
                }
                last_eps = eps;
                xs
            }
        };
        let (logits, out, next) = net.forward_with_hidden(&xs, &st, true);
        // The NLL is what the curve and the metrics report; Professor Forcing trains on it plus its term.
        let nll = loss_of(&logits, &b.ys);
        let mut loss = nll.shallow_clone();
        if let Some(prof) = professor.as_deref_mut() {
            let t = xs.size()[1];
            let len = match s.professor.len {
                0 => t,
                n => (n as i64).min(t),
            };
            let (fr_h, fr_d) = free_run(net, &xs.narrow(1, 0, 1), &st, len);
            let tf_d = logits.narrow(1, 0, len).softmax(-1, Kind::Float);
            // The gate is data-dependent control flow: `judge` reads the discriminator's accuracy on the host,
            // once per step (the only per-step read of this loop).
            let (term, j) = prof.judge(
                (&out.narrow(1, 0, len), &tf_d),
                (&fr_h, &fr_d),
                s.professor.converse,
                s.clip,
            );
            #[allow(clippy::assign_op_pattern)]
            // reason: `+=` on a tch Tensor is in place; a new node keeps autograd plain
            {
                loss = loss + term * s.professor.weight;
            }
            judged_acc += j.accuracy;
            judged_in += usize::from(j.gated_in);
            judged += 1;
        }
        let curve_point = curve_point(i);
        if curve_point {
            correct += correct_of(&logits, &b.ys);
            sampled += b.targets;
        }
        loss.backward();
        if let Some(prof) = professor.as_deref() {
            prof.clear();
        }
        Adam::clip_grad_norm(&params, s.clip);
        adam.step(&params);
        run_loss += nll.detach().to_kind(Kind::Double) * b.targets as f64;
        run_targets += b.targets;
        state = Some(next);
        bar.inc(b.targets as u64);
        if curve_point {
            let sum = run_loss.double_value(&[]);
            if !sum.is_finite() {
                return Err(Stop::NonFinite(sum));
            }
            curve.push((sum / run_targets.max(1) as f64) as f32);
            total_loss += sum;
            targets += run_targets;
            (run_loss, run_targets) = (zero(), 0);
            bar.set_message(format!("loss {:.3}", total_loss / targets.max(1) as f64));
        }
    }
    let n = targets.max(1) as f64;
    Ok(Trained {
        loss: total_loss / n,
        acc: correct.double_value(&[]) / sampled.max(1) as f64,
        targets,
        curve,
        scheduled: (s.forcing == Forcing::Scheduled)
            .then(|| (last_eps, own_fed / own_points.max(1) as f64)),
        professor: (judged > 0)
            .then(|| (judged_acc / judged as f64, judged_in as f64 / judged as f64)),
    })
}

fn progress(total: u64, epoch: usize, epochs: usize, hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "epoch {prefix} [{bar:30}] {human_pos}/{human_len} tokens, {per_sec}, ETA {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar
}
