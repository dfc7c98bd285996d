//! Command line: what to run, parsed by hand.

use std::fmt;

use crate::harness::Params;

pub const USAGE: &str = "\
usage:
  bench all [options]      run every measurement in child processes and print the report
  bench run --contender C --scenario S [--threads N] [scale options]
                           one measurement in this process; prints one JSON line
  bench ops --contender C --operation cast|call|lifecycle --count N
                           N operations and nothing else, for callgrind (callgrind.sh)
  bench overload [--seconds N]
                           eight producers flood one slow genserver under each mailbox
                           kind for N seconds each (default 2); prints a markdown table

options of `all`:
  --runs N                 runs per (scenario, contender) (default 5)
  --write                  also write the report into ../BENCHMARKS.md
  --scenarios LIST         scenarios to run, e.g. ABCF (default ABCDEF)
  --contenders LIST        comma-separated (default genserver,floor,kameo,ractor,actix,genserver-1t,floor-1t)
  --scale                  also run scenario G, once per contender, for genserver and floor
  --scale-all              run G for every contender in --contenders
  --scale-only             run only G (implies --scale); --write then replaces only its section
  --timeout SECS           kill a measurement after this long (default 600; G: 4 x this)

scale options (scenario G):
  --scale-target N         servers to aim for (default 10000000)
  --rss-limit-gib G        stop before RSS would pass this (default 20)

contenders: genserver, floor, kameo, ractor (tokio multi-thread runtime, 2 workers),
  actix (its own single-threaded System), and NAME-1t for a current_thread runtime
  (genserver-1t, floor-1t; kameo-1t and ractor-1t work too).
scenarios: A one producer casts, B four producers casts, C call latency,
  D start+call+stop per server, E memory per idle server, F key-value mix, G scale.
";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContenderId {
    Genserver,
    Floor,
    Kameo,
    Ractor,
    Actix,
}

impl ContenderId {
    pub fn name(self) -> &'static str {
        match self {
            ContenderId::Genserver => "genserver",
            ContenderId::Floor => "floor",
            ContenderId::Kameo => "kameo",
            ContenderId::Ractor => "ractor",
            ContenderId::Actix => "actix",
        }
    }

    fn parse(name: &str) -> Result<Self, String> {
        Ok(match name {
            "genserver" => ContenderId::Genserver,
            "floor" => ContenderId::Floor,
            "kameo" => ContenderId::Kameo,
            "ractor" => ContenderId::Ractor,
            "actix" => ContenderId::Actix,
            _ => return Err(format!("unknown contender `{name}`")),
        })
    }
}

/// A contender on a runtime: tokio multi-thread with `threads` workers, or (threads = 1)
/// a current_thread runtime; actix always runs on its own single-threaded System.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Variant {
    pub contender: ContenderId,
    pub threads: usize,
}

impl Variant {
    pub const fn new(contender: ContenderId, threads: usize) -> Self {
        Variant { contender, threads }
    }

    /// `genserver`, `genserver-1t`, `actix`.
    pub fn id(self) -> String {
        if self.threads == 1 && self.contender != ContenderId::Actix {
            format!("{}-1t", self.contender.name())
        } else {
            self.contender.name().to_string()
        }
    }

    pub fn parse(id: &str) -> Result<Self, String> {
        match id.strip_suffix("-1t") {
            Some(name) => Ok(Variant::new(ContenderId::parse(name)?, 1)),
            None => {
                let contender = ContenderId::parse(id)?;
                let threads = if contender == ContenderId::Actix { 1 } else { 2 };
                Ok(Variant::new(contender, threads))
            }
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

/// The variants `bench all` runs by default, in report order.
pub const DEFAULT_VARIANTS: [Variant; 7] = [
    Variant::new(ContenderId::Genserver, 2),
    Variant::new(ContenderId::Floor, 2),
    Variant::new(ContenderId::Kameo, 2),
    Variant::new(ContenderId::Ractor, 2),
    Variant::new(ContenderId::Actix, 1),
    Variant::new(ContenderId::Genserver, 1),
    Variant::new(ContenderId::Floor, 1),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    A,
    B,
    C,
    D,
    E,
    F,
    G,
}

impl Scenario {
    pub const ALL: [Scenario; 7] =
        [Scenario::A, Scenario::B, Scenario::C, Scenario::D, Scenario::E, Scenario::F, Scenario::G];

    pub fn letter(self) -> char {
        match self {
            Scenario::A => 'A',
            Scenario::B => 'B',
            Scenario::C => 'C',
            Scenario::D => 'D',
            Scenario::E => 'E',
            Scenario::F => 'F',
            Scenario::G => 'G',
        }
    }

    fn parse(letter: char) -> Result<Self, String> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.letter() == letter.to_ascii_uppercase())
            .ok_or_else(|| format!("unknown scenario `{letter}`"))
    }

    pub fn title(self) -> &'static str {
        match self {
            Scenario::A => "One producer: 1,000,000 casts, then one call",
            Scenario::B => "Four producers: 4 × 250,000 casts, then one call",
            Scenario::C => "Call latency: 200,000 sequential calls from one client",
            Scenario::D => "Lifecycle: start + init + one call + stop, 100,000 servers one after another",
            Scenario::E => "Memory per idle server: 100,000 counters kept alive",
            Scenario::F => "Key-value mix: 8 clients × 100,000 ops, 80% get calls / 20% set casts",
            Scenario::G => "Scale: idle counters started in batches of 100,000",
        }
    }
}

pub struct RunArgs {
    pub variant: Variant,
    pub scenario: Scenario,
    pub params: Params,
}

pub struct OpsArgs {
    pub variant: Variant,
    pub operation: crate::harness::Operation,
    pub count: u64,
}

pub struct AllArgs {
    pub runs: usize,
    pub write: bool,
    pub scenarios: Vec<Scenario>,
    pub variants: Vec<Variant>,
    pub scale: bool,
    pub scale_all: bool,
    pub timeout_secs: u64,
    pub params: Params,
}

pub enum Command {
    Run(RunArgs),
    Ops(OpsArgs),
    /// `bench overload`: the flood of each mailbox kind, for this many seconds each.
    Overload(u64),
    All(AllArgs),
    Help,
}

fn default_params() -> Params {
    Params { scale_target: 10_000_000, rss_limit: 20 << 30 }
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else { return Ok(Command::Help) };
    let mut options = rest.iter();
    let next_value = |option: &str, options: &mut std::slice::Iter<'_, String>| {
        options.next().cloned().ok_or_else(|| format!("{option} needs a value"))
    };
    let number = |option: &str, value: String| -> Result<u64, String> {
        value.replace('_', "").parse().map_err(|_| format!("{option}: `{value}` is not a number"))
    };
    let mut params = default_params();
    match command.as_str() {
        "run" => {
            let (mut contender, mut scenario, mut threads) = (None, None, None);
            while let Some(option) = options.next() {
                match option.as_str() {
                    "--contender" => contender = Some(Variant::parse(&next_value(option, &mut options)?)?),
                    "--scenario" => {
                        let value = next_value(option, &mut options)?;
                        let mut letters = value.chars();
                        match (letters.next(), letters.next()) {
                            (Some(letter), None) => scenario = Some(Scenario::parse(letter)?),
                            _ => return Err(format!("--scenario takes one letter, not `{value}`")),
                        }
                    }
                    "--threads" => {
                        threads = Some(number(option, next_value(option, &mut options)?)? as usize)
                    }
                    "--scale-target" => {
                        params.scale_target = number(option, next_value(option, &mut options)?)?
                    }
                    "--rss-limit-gib" => {
                        params.rss_limit = number(option, next_value(option, &mut options)?)? << 30
                    }
                    other => return Err(format!("unknown option `{other}` for `run`")),
                }
            }
            let mut variant = contender.ok_or("run needs --contender")?;
            if let Some(threads) = threads {
                if threads == 0 {
                    return Err("--threads must be at least 1".into());
                }
                if variant.contender == ContenderId::Actix && threads != 1 {
                    return Err("actix runs on its own single-threaded System: --threads 1 only".into());
                }
                variant.threads = threads;
            }
            let scenario = scenario.ok_or("run needs --scenario")?;
            Ok(Command::Run(RunArgs { variant, scenario, params }))
        }
        "ops" => {
            let (mut variant, mut operation, mut count) = (None, None, None);
            while let Some(option) = options.next() {
                match option.as_str() {
                    "--contender" => variant = Some(Variant::parse(&next_value(option, &mut options)?)?),
                    "--operation" => {
                        use crate::harness::Operation;
                        operation = Some(match next_value(option, &mut options)?.as_str() {
                            "cast" => Operation::Cast,
                            "call" => Operation::Call,
                            "lifecycle" => Operation::Lifecycle,
                            other => {
                                return Err(format!("--operation: `{other}` is not cast, call or lifecycle"));
                            }
                        })
                    }
                    "--count" => count = Some(number(option, next_value(option, &mut options)?)?),
                    other => return Err(format!("unknown option `{other}` for `ops`")),
                }
            }
            Ok(Command::Ops(OpsArgs {
                variant: variant.ok_or("ops needs --contender")?,
                operation: operation.ok_or("ops needs --operation")?,
                count: count.ok_or("ops needs --count")?,
            }))
        }
        "overload" => {
            let mut seconds = 2;
            while let Some(option) = options.next() {
                match option.as_str() {
                    "--seconds" => seconds = number(option, next_value(option, &mut options)?)?.max(1),
                    other => return Err(format!("unknown option `{other}` for `overload`")),
                }
            }
            Ok(Command::Overload(seconds))
        }
        "all" => {
            let mut all = AllArgs {
                runs: 5,
                write: false,
                scenarios: vec![Scenario::A, Scenario::B, Scenario::C, Scenario::D, Scenario::E, Scenario::F],
                variants: DEFAULT_VARIANTS.to_vec(),
                scale: false,
                scale_all: false,
                timeout_secs: 600,
                params,
            };
            while let Some(option) = options.next() {
                match option.as_str() {
                    "--runs" => all.runs = number(option, next_value(option, &mut options)?)?.max(1) as usize,
                    "--write" => all.write = true,
                    "--scenarios" => {
                        all.scenarios = next_value(option, &mut options)?
                            .chars()
                            .filter(|c| !matches!(c, ',' | ' '))
                            .map(Scenario::parse)
                            .collect::<Result<_, _>>()?;
                        if all.scenarios.contains(&Scenario::G) {
                            all.scenarios.retain(|s| *s != Scenario::G);
                            all.scale = true;
                        }
                    }
                    "--contenders" => {
                        all.variants = next_value(option, &mut options)?
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(Variant::parse)
                            .collect::<Result<_, _>>()?;
                    }
                    "--scale" => all.scale = true,
                    "--scale-all" => {
                        all.scale = true;
                        all.scale_all = true;
                    }
                    "--scale-only" => {
                        all.scale = true;
                        all.scenarios.clear();
                    }
                    "--timeout" => all.timeout_secs = number(option, next_value(option, &mut options)?)?,
                    "--scale-target" => {
                        all.params.scale_target = number(option, next_value(option, &mut options)?)?
                    }
                    "--rss-limit-gib" => {
                        all.params.rss_limit = number(option, next_value(option, &mut options)?)? << 30
                    }
                    other => return Err(format!("unknown option `{other}` for `all`")),
                }
            }
            Ok(Command::All(all))
        }
        "help" | "--help" | "-h" => Ok(Command::Help),
        other => Err(format!("unknown command `{other}`")),
    }
}
