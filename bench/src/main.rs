//! The genserver benchmark suite.
//!
//! `bench run --contender X --scenario Y [--threads N]` makes one measurement in this
//! process and prints it as one JSON line. `bench all` is the driver: it runs this binary
//! once per (run, scenario, contender), interleaving the contenders within each run, and
//! prints a markdown report (and writes it into ../BENCHMARKS.md with `--write`).
//! See README.md.

mod alloc_count;
mod cli;
mod contenders;
mod driver;
mod harness;
mod overload;
mod report;

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse(&args) {
        Ok(cli::Command::Run(run)) => {
            let outcome = driver::measure(run.variant, run.scenario, run.params);
            let line = serde_json::to_string(&outcome).expect("serialize the outcome");
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{line}").expect("write the outcome");
            stdout.flush().expect("flush stdout");
            // Skip tearing down (possibly millions of) servers: nothing is left to check.
            std::process::exit(0);
        }
        Ok(cli::Command::All(all)) => {
            if let Err(error) = driver::run_all(&all, &args) {
                eprintln!("bench: {error}");
                std::process::exit(1);
            }
        }
        Ok(cli::Command::Ops(ops)) => driver::run_operations(ops.variant, ops.operation, ops.count),
        Ok(cli::Command::Overload(seconds)) => overload::run(seconds),
        Ok(cli::Command::Help) => print!("{}", cli::USAGE),
        Err(error) => {
            eprintln!("bench: {error}\n\n{}", cli::USAGE);
            std::process::exit(2);
        }
    }
}
