//! Text to speech for `say`: the `espeak-ng` program writes a WAV of the text, which then goes
//! the way any audio file goes. The program, not a binding: it is one package on every
//! distribution, and its absence is a clear error rather than a build failure.

use super::decode::Input;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

/// The speech engine's program.
pub const ENGINE: &str = "espeak-ng";

#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    #[error("no speech engine: {ENGINE} is not installed (or not on PATH); install it (Debian: apt-get install espeak-ng)")]
    NotInstalled,
    #[error("cannot run {ENGINE}: {0}")]
    Run(std::io::Error),
    #[error("{ENGINE} failed ({status}): {message}; check --voice (`espeak-ng --voices` lists them)")]
    Failed { status: String, message: String },
    #[error("nothing to say: the text is empty; give the words to say, e.g. `hiktalk say \"Hello\" CAMERA`")]
    Empty,
}

/// How the text is spoken.
#[derive(Debug, Clone, Default)]
pub struct Voice {
    /// An espeak-ng voice (`en`, `en-us`, `de`, `fr+f3`, ...).
    pub name: Option<String>,
    /// Words per minute.
    pub rate: Option<u32>,
}

/// `text` spoken, as a WAV in memory. Blocks while espeak-ng runs.
pub fn synthesize(text: &str, voice: &Voice) -> Result<Input, SpeechError> {
    if text.trim().is_empty() {
        return Err(SpeechError::Empty);
    }
    let mut cmd = Command::new(ENGINE);
    cmd.arg("--stdout");
    if let Some(v) = &voice.name {
        cmd.args(["-v", v]);
    }
    if let Some(r) = voice.rate {
        cmd.args(["-s", &r.to_string()]);
    }
    // The text goes on stdin, so that a text starting with `-` is never taken for an option.
    cmd.arg("--stdin").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SpeechError::NotInstalled,
        _ => SpeechError::Run(e),
    })?;
    let mut stdin = child.stdin.take().ok_or_else(|| SpeechError::Run(std::io::Error::other("no stdin")))?;
    let text = text.to_string();
    // Written from a thread: espeak-ng may fill its stdout before it has read all the text.
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().map_err(SpeechError::Run)?;
    let _ = writer.join();
    // It says why on stderr (an unknown voice, say); a run that wrote no audio failed too.
    let message: String = String::from_utf8_lossy(&out.stderr).split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect();
    if !out.status.success() || out.stdout.len() <= 44 {
        let status = out.status.code().map_or_else(|| "killed".to_string(), |c| format!("exit status {c}"));
        return Err(SpeechError::Failed { status, message: if message.is_empty() { "no audio".into() } else { message } });
    }
    Ok(Input::Memory { what: "the spoken text".into(), bytes: Arc::from(sized(out.stdout)) })
}

/// espeak-ng writes to a pipe, so its header carries a placeholder length; with all the audio
/// at hand the real one is known, and so is the duration a progress bar shows.
fn sized(mut wav: Vec<u8>) -> Vec<u8> {
    if wav.len() >= 44 && &wav[0..4] == b"RIFF" && &wav[36..40] == b"data" {
        let riff = u32::try_from(wav.len() - 8).unwrap_or(u32::MAX);
        let data = u32::try_from(wav.len() - 44).unwrap_or(u32::MAX);
        wav[4..8].copy_from_slice(&riff.to_le_bytes());
        wav[40..44].copy_from_slice(&data.to_le_bytes());
    }
    wav
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_length_becomes_the_real_one() {
        let mut wav = b"RIFF\x24\xf0\xff\x7fWAVEfmt \x10\0\0\0\x01\0\x01\0\x22\x56\0\0\x44\xac\0\0\x02\0\x10\0data\0\xf0\xff\x7f".to_vec();
        wav.extend_from_slice(&[0u8; 100]);
        let wav = sized(wav);
        assert_eq!(u32::from_le_bytes(wav[4..8].try_into().unwrap()), 136);
        assert_eq!(u32::from_le_bytes(wav[40..44].try_into().unwrap()), 100);
    }
}
