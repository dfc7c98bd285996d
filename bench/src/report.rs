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

    /// The context as a markdown list, each item wrapped to the report's width.
    fn markdown(&self, what: &str) -> String {
        let minutes = self.elapsed.as_secs_f64() / 60.0;
        [
            format!("Command: `{}`", self.command),
            format!("Date: {}; {what}; the whole invocation took {minutes:.1} min", self.date),
            format!("Machine: {}; {}", self.machine, self.load),
            format!("Compiler: {}, release profile", self.rustc),
            format!("Crates: {}; {}", self.genserver, self.crates),
        ]
        .iter()
        .map(|item| wrap(&format!("- {item}"), "  "))
        .collect()
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

fn arrow(better: Better) -> &'static str {
    match better {
        Better::Higher => "↑",
        Better::Lower => "↓",
    }
}

/// The A–F part of the report: the context, then three tables with one row per metric and
/// one column per contender: the median's ratio to the floor, the median, and min – max.
pub fn results_section(records: &[Record], all: &AllArgs, context: &Context) -> String {
    let keys = metric_keys(records);
    let variants = &all.variants;
    let mut out = String::new();
    let _ = writeln!(out, "## Results\n");
    let scenarios: String = all.scenarios.iter().map(|s| s.letter()).collect();
    let runs = if context.runs == 1 { "1 run".to_string() } else { format!("{} runs", context.runs) };
    out.push_str(&context.markdown(&format!("scenarios {scenarios}, {runs} each")));
    out.push('\n');
    out.push_str(&wrap(
        &format!(
            "Medians over {runs}, each run a fresh process. The first row gives each column's \
             threads: 2 is a tokio multi-thread runtime with 2 workers; 1 is tokio's \
             current_thread runtime (`-1t`) or, for `actix`, its own single-threaded System. \
             The ratio divides a median by the floor's on as many threads (`floor` or \
             `floor-1t`). ↑ higher is better, so a ratio above 1× beats the floor; ↓ lower is \
             better, so a ratio below 1× beats it. \"(n=K)\": only K runs succeeded."
        ),
        "",
    ));
    if keys.is_empty() {
        let _ = writeln!(out, "\nNo successful measurement.");
        return out;
    }
    let header = |first: &str| {
        let mut head = format!("| {first} |");
        let mut rule = String::from("|---|");
        for variant in variants {
            let _ = write!(head, " `{}` |", variant.id());
            rule.push_str("---:|");
        }
        format!("{head}\n{rule}\n")
    };
    let row = |label: String, cell: &dyn Fn(Variant) -> String| {
        let mut line = format!("| {label} |");
        for &variant in variants {
            let _ = write!(line, " {} |", cell(variant));
        }
        line.push('\n');
        line
    };
    let label =
        |key: &MetricKey, better: Better| format!("{} {} {}", key.scenario.letter(), key.name, arrow(better));

    let _ = writeln!(out, "\n### Median ÷ the floor's median\n");
    out.push_str(&header("Metric"));
    out.push_str(&row("threads".into(), &|variant| variant.threads.to_string()));
    for (key, _, better) in &keys {
        out.push_str(&row(label(key, *better), &|variant| {
            ratio(records, key, variants, variant).map(|r| format!("{r:.2}×")).unwrap_or("–".into())
        }));
    }

    let _ = writeln!(out, "\n### Median\n");
    out.push_str(&header("Metric"));
    for (key, unit, better) in &keys {
        out.push_str(&row(label(key, *better), &|variant| {
            let vals: Vec<f64> = values(records, key, variant).collect();
            let mut cell = match stats(&vals) {
                Some(s) if s.n < context.runs => format!("{} (n={})", fmt_value(*unit, s.median), s.n),
                Some(s) => fmt_value(*unit, s.median),
                None => "–".into(),
            };
            let failed = failures(records, key.scenario, variant);
            if failed > 0 {
                let _ = write!(cell, " ({failed} failed)");
            }
            cell
        }));
    }

    let _ = writeln!(out, "\n### Min – max over the runs\n");
    out.push_str(&header("Metric, unit"));
    for (key, unit, _) in &keys {
        let largest = variants
            .iter()
            .flat_map(|&variant| values(records, key, variant))
            .fold(0.0_f64, |a, b| a.max(b.abs()));
        let (unit_name, divisor) = row_unit(*unit, largest);
        let name = format!("{} {}", key.scenario.letter(), key.name);
        let label = if unit_name.is_empty() { name } else { format!("{name}, {unit_name}") };
        out.push_str(&row(label, &|variant| {
            let vals: Vec<f64> = values(records, key, variant).collect();
            match stats(&vals) {
                Some(s) => {
                    let (low, high) = (short_number(s.min / divisor), short_number(s.max / divisor));
                    if low == high { low } else { format!("{low}–{high}") }
                }
                None => "–".into(),
            }
        }));
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
    out.push('\n');
    out.push_str(&wrap(
        &format!(
            "Target {} servers; a batch is not started if it would take RSS past {:.0} GiB or \
             leave less than 1 GiB of memory available. Each server is started the library's way \
             and awaited before the next; after the last batch 1,000 servers spread over all of \
             them (and the last one) must answer a call with their own state. One run per \
             contender.",
            fmt_count(all.params.scale_target as f64),
            all.params.rss_limit as f64 / GIB
        ),
        "",
    ));
    out.push('\n');
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

/// Puts the sections this invocation produced into ../BENCHMARKS.md, each in place of the
/// block between its markers; everything outside those blocks is hand-written and kept as
/// it is. A section whose markers are missing is appended, with its markers.
pub fn write_benchmarks_md(
    results: Option<&str>,
    scale: Option<&str>,
    _context: &Context,
) -> Result<PathBuf, String> {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../BENCHMARKS.md"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    for (markers, section) in [(RESULTS, results), (SCALE, scale)] {
        if let Some(section) = section {
            text = replace_block(&text, markers, section.trim());
        }
    }
    let path = path.canonicalize().unwrap_or(path);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// `text` with the block from `begin` to `end` (markers included) replaced by `section`
/// between the same markers, or with that block appended if `text` lacks the markers. A
/// marker counts only as a line of its own, so prose that names a marker is left alone.
fn replace_block(text: &str, (begin, end): (&str, &str), section: &str) -> String {
    let block = format!("{begin}\n{section}\n{end}");
    let found = marker_line(text, begin, 0).and_then(|start| {
        let stop = marker_line(text, end, start + begin.len())? + end.len();
        Some((start, stop))
    });
    match found {
        Some((start, stop)) => format!("{}{block}{}", &text[..start], &text[stop..]),
        None => format!("{}\n\n{block}\n", text.trim_end()),
    }
}

/// Where the first line at or after byte `from` that is exactly `marker` starts.
fn marker_line(text: &str, marker: &str, from: usize) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset >= from && line.trim_end_matches(['\n', '\r']) == marker {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// The width the report's prose is wrapped to; tables are not wrapped.
const WIDTH: usize = 90;

/// `text` wrapped at spaces to `WIDTH` columns, every line after the first starting with
/// `indent`, and ending with a newline. A word longer than a line stays whole.
fn wrap(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let fresh = line.trim().is_empty();
        if !fresh && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
        } else if !fresh {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The unit a whole table row is written in, and what to divide its values by, chosen
/// from the row's largest value so that every cell reads in the same unit.
fn row_unit(unit: Unit, largest: f64) -> (&'static str, f64) {
    match unit {
        Unit::PerSec if largest >= 1e6 => ("M/s", 1e6),
        Unit::PerSec if largest >= 1e3 => ("k/s", 1e3),
        Unit::PerSec => ("/s", 1.0),
        Unit::Nanos if largest < 1e3 => ("ns", 1.0),
        Unit::Nanos if largest < 1e6 => ("µs", 1e3),
        Unit::Nanos => ("ms", 1e6),
        Unit::Bytes => ("B", 1.0),
        Unit::Count => ("", 1.0),
        Unit::Secs => ("s", 1.0),
    }
}

/// A number to three significant digits (more for numbers of four digits or more).
fn short_number(value: f64) -> String {
    match value.abs() {
        v if v >= 100.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}
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

#[cfg(test)]
mod tests {
    use super::replace_block;

    const MARKERS: (&str, &str) = ("<!-- x:begin -->", "<!-- x:end -->");

    #[test]
    fn replaces_only_the_block_on_marker_lines() {
        let text = "# T\n\nProse naming `<!-- x:begin -->` and `<!-- x:end -->`.\n\n\
                    <!-- x:begin -->\nold\n<!-- x:end -->\n\nAfter.\n";
        assert_eq!(
            replace_block(text, MARKERS, "new"),
            "# T\n\nProse naming `<!-- x:begin -->` and `<!-- x:end -->`.\n\n\
             <!-- x:begin -->\nnew\n<!-- x:end -->\n\nAfter.\n"
        );
    }

    #[test]
    fn appends_the_block_when_the_markers_are_missing() {
        assert_eq!(replace_block("# T\n", MARKERS, "new"), "# T\n\n<!-- x:begin -->\nnew\n<!-- x:end -->\n");
    }
}
