//! Load-generator processes: the bench binary re-executes itself with `--worker`, reads one
//! [`Job`] as JSON on stdin and answers one [`JobResult`] as JSON on stdout. Splitting the
//! generator keeps each process' sockets under the per-process file-descriptor limit.

use std::process::Stdio;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::HarnessError;
use crate::generator::{self, Job, JobResult, Mode};

/// Worker side: runs the job from stdin and prints its result.
///
/// # Errors
/// Unreadable job, invalid request spec, or stdout closed.
pub async fn serve_stdin() -> Result<(), HarnessError> {
    let mut input = String::new();
    tokio::io::stdin().read_to_string(&mut input).await?;
    let job: Job = serde_json::from_str(&input)
        .map_err(|e| HarnessError::child("worker job", format!("not a job: {e}")))?;
    let result = generator::run(job)
        .await
        .map_err(|e| HarnessError::child("worker job", e))?;
    let json =
        serde_json::to_string(&result).map_err(|e| HarnessError::child("worker result", e))?;
    let mut out = tokio::io::stdout();
    out.write_all(json.as_bytes()).await?;
    out.write_all(b"\n").await?;
    out.flush().await?;
    Ok(())
}

/// Runs `job` over `workers` processes (in this process when `workers <= 1`) and merges what
/// they measured.
///
/// # Errors
/// A worker that cannot be started, fails, or answers something that is not a result.
pub async fn run_distributed(job: Job, workers: usize) -> Result<JobResult, HarnessError> {
    if workers <= 1 {
        return generator::run(job)
            .await
            .map_err(|e| HarnessError::child("load generator", e));
    }
    let workers = workers.min(job.connections.max(1));
    let base = job.connections / workers;
    let extra = job.connections % workers;
    let mut first = 0;
    let mut running = Vec::with_capacity(workers);
    for w in 0..workers {
        let count = base + usize::from(w < extra);
        let mut part = job.clone();
        // The opening concurrency is a total: each worker gets its share.
        if let Mode::Hold {
            open_concurrency, ..
        } = &mut part.mode
        {
            *open_concurrency = open_concurrency.div_ceil(workers);
        }
        part.first_index = job.first_index + first;
        part.connections = count;
        part.identities = (first..first + count)
            .map(|i| job.identity(i).to_vec())
            .collect();
        first += count;
        running.push(tokio::spawn(run_worker(part)));
    }
    let mut merged = JobResult::default();
    for handle in running {
        let result = handle
            .await
            .map_err(|e| HarnessError::child("worker", e))??;
        merged.merge(&result);
    }
    Ok(merged)
}

async fn run_worker(job: Job) -> Result<JobResult, HarnessError> {
    let exe = std::env::current_exe()?;
    let mut child = tokio::process::Command::new(exe)
        .arg("--worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| HarnessError::child("worker", format!("cannot start: {e}")))?;
    let input = serde_json::to_vec(&job).map_err(|e| HarnessError::child("worker", e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&input).await?;
        // Dropping stdin closes it: the worker reads to end of file.
    }
    let mut output = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut output).await?;
    }
    let status = child.wait().await?;
    if !status.success() {
        return Err(HarnessError::child(
            "worker",
            format!("exited with {status}"),
        ));
    }
    serde_json::from_str(output.trim())
        .map_err(|e| HarnessError::child("worker", format!("answer is not a result: {e}")))
}
