//! The markdown report, and BENCHMARKS.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::cli::{AllArgs, ContenderId, Scenario, Variant};
use crate::harness::{Better, GIB, Metric, Outcome, Unit};

/// One measurement as the driver saw it.
pub struct Record {
    pub run: usize,
    pub scenario: Scenario,
    pub variant: Variant,
    pub outcome: Result<Outcome, String>,
    pub wall: Duration,
}

impl Record {
    /// One line for the progress log.
    pub fn summary(&self) -> String {
        match &self.outcome {
            Ok(outcome) => {
                let metrics: Vec<String> = outcome
                    .metrics
                    .iter()
                    .map(|m| format!("{} {}", m.name, fmt_value(m.unit, m.value)))
                    .collect();
                format!("{}  ({:.1} s)", metrics.join(", "), self.wall.as_secs_f64())
            }
            Err(error) => format!("FAILED ({:.1} s): {error}", self.wall.as_secs_f64()),
        }
    }
}

/// Where and how the numbers were made.
pub struct Context {
    pub command: String,
    pub date: String,
    pub machine: String,
    pub rustc: String,
    pub crates: String,
    pub genserver: String,
    pub runs: usize,
    pub elapsed: Duration,
    pub load: String,
}

impl Context {
    /// `load_before`: `/proc/loadavg` when the invocation started.
    pub fn gather(argv: &[String], all: &AllArgs, elapsed: Duration, load_before: &str) -> Self {
        let command = format!("cd bench && cargo run --release -- {}", argv.join(" "));
        let date = run_text("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(|| "unknown".into());
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(format!("{:.1} GiB", kib * 1024.0 / GIB))
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let machine = format!(
            "{} {}, Linux {kernel}; {cpu_model}; nproc {cpus}; memory {memory}",
            std::env::consts::OS,
            std::env::consts::ARCH
        );
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap_or_default();
        let crates = ["tokio", "kameo", "ractor", "actix", "actix-rt"]
            .iter()
            .map(|name| format!("{name} {}", locked_version(&lock, name).unwrap_or_else(|| "?".into())))
            .collect::<Vec<_>>()
            .join(", ");
        let genserver = format!(
            "genserver-runtime {} (path dependency; repository commit {}, genserver sources: {})",
            locked_version(&lock, "genserver-runtime").unwrap_or_else(|| "?".into()),
            env!("BENCH_GENSERVER_COMMIT"),
            env!("BENCH_GENSERVER_WORKTREE"),
        );
        Context {
            command,
            date,
            machine,
            rustc: env!("BENCH_RUSTC_VERSION").to_string(),
            crates,
            genserver,
            runs: all.runs,
            elapsed,
            load: format!("load average (1, 5, 15 min) {load_before} before, {} after", loadavg()),
        }
    }

    fn markdown(&self, what: &str) -> String {
        format!(
            "- Command: `{}`\n- Date: {}; {what}; the whole invocation took {:.1} min\n\
             - Machine: {}; {}\n- Compiler: {}, release profile\n- Crates: {}; {}\n",
            self.command,
            self.date,
            self.elapsed.as_secs_f64() / 60.0,
            self.machine,
            self.load,
            self.rustc,
            self.genserver,
            self.crates,
        )
    }
}

/// The first three fields of `/proc/loadavg`.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn run_text(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The version of `name` in a Cargo.lock.
fn locked_version(lock: &str, name: &str) -> Option<String> {
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"") {
            let version = lines.next()?.trim().strip_prefix("version = \"")?.strip_suffix('"')?;
            return Some(version.to_string());
        }
    }
    None
}

/// A metric of a scenario: one table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct MetricKey {
    scenario: Scenario,
    order: usize,
    name: String,
}

struct Stats {
    median: f64,
    min: f64,
    max: f64,
    n: usize,
}

fn stats(values: &[f64]) -> Option<Stats> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some(Stats { median, min: v[0], max: v[n - 1], n })
}

/// Metric keys in report order, with their unit and direction.
fn metric_keys(records: &[Record]) -> Vec<(MetricKey, Unit, Better)> {
    let mut keys: BTreeMap<MetricKey, (Unit, Better)> = BTreeMap::new();
    for record in records {
        if let Ok(outcome) = &record.outcome {
            for (order, metric) in outcome.metrics.iter().enumerate() {
                let key = MetricKey { scenario: record.scenario, order, name: metric.name.clone() };
                keys.entry(key).or_insert((metric.unit, metric.better));
            }
        }
    }
    keys.into_iter().map(|(k, (u, b))| (k, u, b)).collect()
}

fn values<'a>(records: &'a [Record], key: &'a MetricKey, variant: Variant) -> impl Iterator<Item = f64> + 'a {
    records
        .iter()
        .filter(move |r| r.scenario == key.scenario && r.variant == variant)
        .filter_map(|r| r.outcome.as_ref().ok())
        .filter_map(|o| o.metrics.iter().find(|m: &&Metric| m.name == key.name))
        .map(|m| m.value)
}

fn failures(records: &[Record], scenario: Scenario, variant: Variant) -> usize {
    records.iter().filter(|r| r.scenario == scenario && r.variant == variant && r.outcome.is_err()).count()
}

/// The floor on the same number of threads: the baseline of a row.
fn baseline(variants: &[Variant], variant: Variant) -> Option<Variant> {
    variants.iter().copied().find(|v| v.contender == ContenderId::Floor && v.threads == variant.threads)
}

fn threads_label(variant: Variant) -> String {
    match variant.threads {
        1 => "1 thread".to_string(),
        n => format!("{n} threads"),
    }
}

fn direction(better: Better) -> &'static str {
    match better {
        Better::Higher => "higher is better",
        Better::Lower => "lower is better",
    }
}

fn arrow(better: Better) -> &'static str {
    match better {
        Better::Higher => "↑",
        Better::Lower => "↓",
    }
}

/// The A–F part of the report.
pub fn results_section(records: &[Record], all: &AllArgs, context: &Context) -> String {
    let keys = metric_keys(records);
    let variants = &all.variants;
    let mut out = String::new();
    let _ = writeln!(out, "## Results\n");
    let scenarios: String = all.scenarios.iter().map(|s| s.letter()).collect();
    let runs = if context.runs == 1 { "1 run".to_string() } else { format!("{} runs", context.runs) };
    out.push_str(&context.markdown(&format!("scenarios {scenarios}, {runs} each")));
    let _ = writeln!(
        out,
        "\nEvery cell is the median over {runs}, each run a fresh process; min – max is over the \
         runs. **vs floor** is the median divided by the floor's median on the same number of \
         threads (2-thread rows against `floor`, 1-thread rows against `floor-1t`), so for a \
         throughput above 1× beats the floor and for a time or a size below 1× beats it. The \
         2-thread rows run on a tokio multi-thread runtime with 2 workers; `actix` runs on its \
         own single-threaded System, so it is compared with `genserver-1t` and `floor-1t` on a \
         tokio current_thread runtime.\n"
    );

    // The summary: every metric's ratio in one table.
    let _ = writeln!(out, "### Summary: median ÷ floor's median (↑ higher is better, ↓ lower is better)\n");
    let mut header = String::from("| Contender | Threads |");
    let mut rule = String::from("|---|---|");
    for (key, _, better) in &keys {
        let _ = write!(header, " {} {} {} |", key.scenario.letter(), key.name, arrow(*better));
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for &variant in variants {
        let _ = write!(out, "| `{}` | {} |", variant.id(), threads_label(variant));
        for (key, _, _) in &keys {
            let cell =
                ratio(records, key, variants, variant).map(|r| format!("{r:.2}×")).unwrap_or("–".into());
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }

    for &scenario in &all.scenarios {
        let _ = writeln!(out, "\n### {}. {}\n", scenario.letter(), scenario.title());
        let scenario_keys: Vec<_> = keys.iter().filter(|(k, _, _)| k.scenario == scenario).collect();
        if scenario_keys.is_empty() {
            let _ = writeln!(out, "No successful measurement.");
        }
        for (key, unit, better) in scenario_keys {
            let _ = writeln!(
                out,
                "{}: {}. vs floor = contender ÷ floor ({}).\n",
                key.name,
                direction(*better),
                match better {
                    Better::Higher => "above 1× beats the floor",
                    Better::Lower => "below 1× beats the floor",
                }
            );
            let _ = writeln!(
                out,
                "| Contender | Threads | Median | Min – Max | vs floor |\n|---|---|---:|---:|---:|"
            );
            for &variant in variants {
                let vals: Vec<f64> = values(records, key, variant).collect();
                let failed = failures(records, scenario, variant);
                let (median, range) = match stats(&vals) {
                    Some(s) => {
                        let mut median = fmt_value(*unit, s.median);
                        if s.n < context.runs {
                            let _ = write!(median, " (n={})", s.n);
                        }
                        (median, fmt_range(*unit, s.min, s.max))
                    }
                    None => ("–".into(), "–".into()),
                };
                let median = if failed > 0 { format!("{median} ({failed} failed)") } else { median };
                let vs =
                    ratio(records, key, variants, variant).map(|r| format!("{r:.2}×")).unwrap_or("–".into());
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {median} | {range} | {vs} |",
                    variant.id(),
                    threads_label(variant)
                );
            }
            out.push('\n');
        }
    }
    out
}

fn ratio(records: &[Record], key: &MetricKey, variants: &[Variant], variant: Variant) -> Option<f64> {
    let base = baseline(variants, variant)?;
    let mine = stats(&values(records, key, variant).collect::<Vec<_>>())?.median;
    let floor = stats(&values(records, key, base).collect::<Vec<_>>())?.median;
    (floor != 0.0).then(|| mine / floor)
}

/// The G part of the report.
pub fn scale_section(records: &[Record], all: &AllArgs, context: &Context) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## G. {}\n", Scenario::G.title());
    out.push_str(&context.markdown("scenario G, once per contender"));
    let _ = writeln!(
        out,
        "\nTarget {} servers; a batch is not started if it would take RSS past {:.0} GiB or leave \
         less than 1 GiB of memory available. Each server is started the library's way and \
         awaited before the next; after the last batch 1,000 servers spread over all of them (and \
         the last one) must answer a call with their own state. One run per contender.\n",
        fmt_count(all.params.scale_target as f64),
        all.params.rss_limit as f64 / GIB
    );
    let _ = writeln!(
        out,
        "| Contender | Threads | Servers alive | Time to start | Starts/s | RSS per server | Outcome |\n\
         |---|---|---:|---:|---:|---:|---|"
    );
    for record in records {
        match &record.outcome {
            Ok(outcome) => {
                let get =
                    |name: &str| outcome.metrics.iter().find(|m| m.name == name).map(|m| (m.unit, m.value));
                let cell = |name: &str| get(name).map(|(u, v)| fmt_value(u, v)).unwrap_or("–".into());
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} | {} | {} |",
                    record.variant.id(),
                    threads_label(record.variant),
                    cell("servers alive"),
                    cell("time to start"),
                    cell("starts/s"),
                    cell("RSS bytes per server"),
                    outcome.note.as_deref().unwrap_or("")
                );
            }
            Err(error) => {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | – | – | – | – | failed: {} |",
                    record.variant.id(),
                    threads_label(record.variant),
                    error.replace('|', "/")
                );
            }
        }
    }
    out
}

const RESULTS: (&str, &str) = ("<!-- results:begin -->", "<!-- results:end -->");
const SCALE: (&str, &str) = ("<!-- scale:begin -->", "<!-- scale:end -->");
/// The hand-written reading of the results (the targets, and what bounds the ones not
/// met): never generated, always kept from the existing file.
const ANALYSIS: (&str, &str) = ("<!-- analysis:begin -->", "<!-- analysis:end -->");

/// Writes ../BENCHMARKS.md: the fixed text, plus the sections this invocation produced;
/// a section it did not produce is kept from the existing file.
pub fn write_benchmarks_md(
    results: Option<&str>,
    scale: Option<&str>,
    _context: &Context,
) -> Result<PathBuf, String> {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md"));
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let keep = |markers: (&str, &str)| -> Option<String> {
        let start = existing.find(markers.0)? + markers.0.len();
        let end = existing[start..].find(markers.1)? + start;
        Some(existing[start..end].trim().to_string())
    };
    let results = results.map(|s| s.trim().to_string()).or_else(|| keep(RESULTS)).unwrap_or_else(|| {
        "## Results\n\nNot measured yet: run `cd bench && cargo run --release -- all --runs 5 --write`."
            .into()
    });
    let scale = scale.map(|s| s.trim().to_string()).or_else(|| keep(SCALE)).unwrap_or_else(|| {
        format!(
            "## G. {}\n\nNot measured yet (opt-in, slow): `cd bench && cargo run --release -- all --scale-only --write`.",
            Scenario::G.title()
        )
    });
    let analysis = keep(ANALYSIS).unwrap_or_else(|| "## Targets\n\nNot written yet.".into());
    let text = format!(
        "{INTRO}\n{}\n{results}\n{}\n\n{}\n{scale}\n{}\n\n{NOTES}\n{}\n{analysis}\n{}\n\n{SCENARIOS}",
        RESULTS.0, RESULTS.1, SCALE.0, SCALE.1, ANALYSIS.0, ANALYSIS.1
    );
    let path = path.canonicalize().unwrap_or(path);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

const INTRO: &str = "\
# Benchmarks

genserver against the floor (the hand-written tokio loop a tokio engineer would write
instead: one task per server, an unbounded mpsc channel of an enum, a oneshot per reply)
and against kameo, ractor and actix, all doing the same work: a counter server (cast
`add(n)`, call `get() -> u64`) and a key-value server over a `HashMap<u64, u64>` (call
`get(key) -> Option<u64>`, cast `set(key, value)`). Every scenario checks its result.

This file is generated by the suite in [`bench/`](bench/README.md): do not edit it by hand;
rerun `cd bench && cargo run --release -- all --runs 5 --write` (and `-- all --scale-only
--write` for scenario G). Read \"What differs between the contenders\" below before
comparing rows.
";

const NOTES: &str = "\
## What differs between the contenders

- **Threads.** genserver, floor, kameo and ractor run on a tokio multi-thread runtime with
  exactly 2 worker threads; each scenario's own task is spawned onto it, so that no
  client runs on the extra `block_on` thread. actix runs on its own `System`, a
  single-threaded runtime (actix puts all actors of an `Arbiter` on one thread), so its
  rows are marked *1 thread* and compare with `genserver-1t` and `floor-1t`, the same code
  on a tokio current_thread runtime.
- **Mailboxes are each library's default.** genserver, the floor and ractor: unbounded.
  kameo: bounded to 64 messages, so a `tell` waits for room when the server falls behind
  (backpressure in A, B and F). actix: bounded to 16 for `send` (calls); `do_send`
  (casts) ignores the bound.
- **Calls.** genserver calls carry the default 5 s timeout (a tokio timer per call) and
  also end if the server exits; kameo's `ask`, ractor's `call!`, actix's `send` and the
  floor wait without a timeout by default. kameo requests are sent with `.send().await`,
  which is what `.await` on the request does minus the boxed future its `IntoFuture`
  allocates.
- **Start.** genserver's `start` and ractor's `Actor::spawn` return once init has run (a
  round trip to the new task); kameo's `spawn` and actix's `start` return at once, and
  the floor has no init step. In D the first call waits for the init in every case.
- **Stop (scenario D).** genserver: `stop(Normal, 5 s)` (a queued stop request, then
  waiting for the exit). floor: drop the last sender and await the task's `JoinHandle`.
  kameo: `stop_gracefully` + `wait_for_shutdown`. ractor: `stop(None)` + await the
  `JoinHandle` (ractor's stop overtakes queued messages; none are queued in D). actix has
  no way to wait for an actor's end from outside, so D's actix counter carries a oneshot
  that its `stopped` hook fires, and is stopped by a message whose handler calls
  `ctx.stop()`.
- **Tracing.** Default features are kept: kameo's `tracing` (captures the caller's span
  per message), ractor's `message_span_propogation`; genserver instruments each server
  task with a span. No subscriber is installed.
- **Memory (E).** Heap bytes are the bytes requested from the allocator (a counting
  wrapper around the system allocator), measured after every server has answered one
  call; RSS growth (from `/proc/self/statm`) also includes malloc's overhead. The client
  handles sit in a `Vec` allocated before the first reading.
- **Placement noise on 2 threads.** A, B and F depend on where tokio puts the server
  task relative to its clients: on the same worker the server drains a batch once the
  producer yields; on the other worker it is woken for nearly every message. Which one
  happens varies from process to process, so these rows can be bimodal (see B's
  min – max); compare medians.
- **Method.** Each measurement runs in a fresh process; within a run the contenders of a
  scenario run one after another, and the first contender rotates from run to run, so
  drift affects all of them alike. Other work on the machine (compilation) can add
  noise; the min – max columns show how much.
";

const SCENARIOS: &str = "\
## Scenarios

- **A**: one producer casts `add(1)` 1,000,000 times, then one call `get()` must
  return 1,000,000. Casts per second, from the first cast to the call's reply.
- **B**: 4 producer tasks × 250,000 casts, then one call must read 1,000,000.
- **C**: 200,000 sequential `get()` calls from one client after 10,000 warm-up calls,
  each timed with `Instant`; mean, p50, p99.
- **D**: for 100,000 servers, one after another: start (with init) + one call + stop
  and wait until stopped. Total time ÷ 100,000.
- **E**: 100,000 idle counters kept alive; heap bytes and RSS growth per server.
- **F**: a key-value server preloaded with 1,000 keys; 8 client tasks × 100,000 ops
  from a per-client xorshift sequence, 80% `get` calls and 20% `set` casts, each
  client ending with a check call; ops per second.
- **G** (opt-in): idle counters started in batches of 100,000 up to 10,000,000 or until
  the next batch would pass the RSS limit (20 GiB by default); how many are alive and
  how long starting them took. Once per contender; genserver and floor by default.
";

fn fmt_value(unit: Unit, value: f64) -> String {
    match unit {
        Unit::PerSec => {
            if value >= 1e6 {
                format!("{:.2} M/s", value / 1e6)
            } else if value >= 1e3 {
                format!("{:.1} k/s", value / 1e3)
            } else {
                format!("{value:.0} /s")
            }
        }
        Unit::Nanos => {
            if value < 1e3 {
                format!("{value:.0} ns")
            } else if value < 1e6 {
                format!("{:.2} µs", value / 1e3)
            } else {
                format!("{:.2} ms", value / 1e6)
            }
        }
        Unit::Bytes => {
            if value.abs() < 10_000.0 {
                format!("{value:.0} B")
            } else {
                format!("{:.1} KiB", value / 1024.0)
            }
        }
        Unit::Count => fmt_count(value),
        Unit::Secs => format!("{value:.2} s"),
    }
}

fn fmt_range(unit: Unit, min: f64, max: f64) -> String {
    let (low, high) = (fmt_value(unit, min), fmt_value(unit, max));
    // "1.2 – 1.5 M/s" rather than "1.2 M/s – 1.5 M/s" when both share the unit.
    match (low.rsplit_once(' '), high.rsplit_once(' ')) {
        (Some((number, unit_low)), Some((_, unit_high))) if unit_low == unit_high => {
            format!("{number} – {high}")
        }
        _ => format!("{low} – {high}"),
    }
}

fn fmt_count(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}
