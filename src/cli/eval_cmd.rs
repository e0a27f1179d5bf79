//! `iamsim eval`: a JSON Lines stream of requests against a policy bundle.
//! Streams in chunks (bounded memory for any input), decides each chunk in
//! parallel with one [`Scratch`] per worker, writes results in input order.
//! A malformed line yields `{"line":N,"error":"…"}` in its place (nothing is
//! dropped) and makes the exit code 1.

use super::{load, output, CliError, EvalArgs};
use iamsim::engine::compile::CompiledPolicySet;
use iamsim::engine::eval::batch::with_thread_scratch;
use iamsim::engine::eval::Scratch;
use iamsim::engine::policy::PolicySet;
use iamsim::engine::request::{Request, RequestTime};
use rayon::prelude::*;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

/// Lines decided per parallel chunk; bounds memory.
const CHUNK_LINES: usize = 16 * 1024;

/// Parses one request line (see [`Request::from_json_text`]).
///
/// # Errors
/// A message saying what is wrong with the line.
pub fn parse_request_line(line: &str) -> Result<Request, String> {
    Request::from_json_text(line).map_err(|e| format!("invalid request: {e}"))
}

fn eval_line(
    set: &CompiledPolicySet,
    now: &RequestTime,
    scratch: &mut Scratch,
    line_no: usize,
    line: &Result<Vec<u8>, usize>,
) -> (String, bool) {
    let result = line
        .as_ref()
        .map_err(|n| format!("line of {n} bytes is over the {} MiB limit", iamsim::audit::lines::MAX_LINE_BYTES >> 20))
        .and_then(|l| std::str::from_utf8(l).map_err(|_| "line is not valid UTF-8".to_string()))
        .and_then(parse_request_line)
        .map(|mut req| {
            // AWS sets the request time in every request: the run's start, unless given.
            req.context.set_request_time(now);
            let d = set.decide(&req, scratch);
            output::result_line(set, &req, &d)
        });
    match result {
        Ok(s) => (s, false),
        Err(e) => (serde_json::json!({ "line": line_no, "error": e }).to_string(), true),
    }
}

/// Runs `eval`.
pub fn run(args: &EvalArgs) -> Result<ExitCode, CliError> {
    let bytes = load::read_file(&args.bundle)?;
    let set = PolicySet::from_bundle(&bytes, &args.bundle.display().to_string())?;
    load::warn_dead_actions(set.policies().map(|(_, _, p)| p));
    let compiled = CompiledPolicySet::compile(set)?;
    let now = RequestTime::now();
    let threads = super::thread_count(args.threads)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.unwrap_or(0)).build()?;
    let mut input: Box<dyn BufRead + Send> = if args.requests == "-" {
        Box::new(BufReader::with_capacity(1 << 20, std::io::stdin()))
    } else {
        let path = std::path::Path::new(&args.requests);
        if path.is_dir() {
            return Err(CliError::new(format!("{}: is a directory, expected a JSON Lines file", path.display())));
        }
        let file =
            std::fs::File::open(path).map_err(|e| CliError::new(format!("{}: cannot read: {e}", path.display())))?;
        Box::new(BufReader::with_capacity(1 << 20, file))
    };
    let mut out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(BufWriter::new(
            std::fs::File::create(p).map_err(|e| CliError::new(format!("{}: cannot write: {e}", p.display())))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let source = if args.requests == "-" { "<stdin>".to_string() } else { args.requests.clone() };
    let (mut errors, mut total) = (0usize, 0usize);
    let mut first_error: Option<String> = None;
    // A reader thread fills the next chunk while this one is decided; two
    // chunks in flight bound memory whatever the input size.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<(usize, Result<Vec<u8>, usize>)>, String>>(1);
    let read_source = source.clone();
    let reader = std::thread::spawn(move || {
        let mut line_no = 0usize;
        loop {
            let mut chunk = Vec::with_capacity(CHUNK_LINES);
            while chunk.len() < CHUNK_LINES {
                let mut buf = Vec::new();
                let line =
                    match iamsim::audit::lines::read_line(&mut input, &mut buf, iamsim::audit::lines::MAX_LINE_BYTES) {
                        Ok(iamsim::audit::lines::Line::End) => break,
                        Ok(line) => line,
                        Err(e) => {
                            let _ = tx.send(Err(format!("{read_source}: read error: {e}")));
                            return;
                        }
                    };
                line_no += 1;
                if let iamsim::audit::lines::Line::TooLong(n) = line {
                    // Kept in place as an error line, like any other bad request.
                    chunk.push((line_no, Err(n)));
                    continue;
                }
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                if !buf.iter().all(u8::is_ascii_whitespace) {
                    chunk.push((line_no, Ok(buf)));
                }
            }
            let done = chunk.len() < CHUNK_LINES;
            if (!chunk.is_empty() && tx.send(Ok(chunk)).is_err()) || done {
                return;
            }
        }
    });
    for chunk in rx {
        let chunk = chunk.map_err(CliError::new)?;
        let results: Vec<(String, bool)> = pool.install(|| {
            chunk
                .par_chunks(256)
                .flat_map_iter(|lines| {
                    with_thread_scratch(&compiled, |s| {
                        lines.iter().map(|(n, line)| eval_line(&compiled, &now, s, *n, line)).collect::<Vec<_>>()
                    })
                })
                .collect()
        });
        for ((n, _), (text, failed)) in chunk.iter().zip(&results) {
            total += 1;
            if *failed {
                errors += 1;
                first_error.get_or_insert_with(|| format!("{source}:{n}: {text}"));
            }
            let written = out.write_all(text.as_bytes()).and_then(|_| out.write_all(b"\n"));
            if let Err(e) = written {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(ExitCode::SUCCESS);
                }
                return Err(e.into());
            }
        }
    }
    let _ = reader.join();
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        other => other?,
    }
    if errors > 0 {
        eprintln!("iamsim: error: {errors} of {total} request lines were malformed (each has an error line in the output); first: {}", first_error.unwrap_or_default());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
