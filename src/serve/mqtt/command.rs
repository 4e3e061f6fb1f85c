//! What a command topic may ask, read from its payload (bounded, checked, never a path), and
//! the per-camera rate that keeps a flood from reaching the devices.

use crate::isapi::intercom::CallCmd;
use crate::outcome::Ending;
use std::time::Duration;
use tokio::time::Instant;

/// The largest command payload read; a larger one is refused unread.
pub const MAX_PAYLOAD: usize = 4096;
/// The longest text `say` speaks, in characters (Home Assistant's text entity default, 255).
pub const MAX_TEXT: usize = 255;
/// Commands a camera takes at once, and how many more per second after that.
const BURST: f64 = 5.0;
const PER_SECOND: f64 = 1.0;
/// A refusal for the rate is said on the result topic at most this often per camera.
const SAY_REFUSAL_EVERY: Duration = Duration::from_secs(1);
/// The doors an unlock may name, whatever a payload says.
const MAX_DOOR: u32 = 64;

/// The command topics, as `<topic>/<camera>/command/<name>`.
pub const NAMES: [&str; 8] = ["answer", "hangup", "reject", "unlock", "stop", "volume", "say", "sound"];

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Signal(CallCmd),
    Unlock(u32),
    /// Stops the camera's announcements (playing and queued).
    Stop,
    Volume(u32),
    Say(String),
    Sound(String),
}

fn usage(detail: String) -> Ending {
    Ending::Usage { detail }
}

impl Command {
    /// The command `name` with `payload`; `sounds`: the names the sound directory offers.
    pub fn parse(name: &str, payload: &[u8], sounds: &[String]) -> Result<Command, Ending> {
        if payload.len() > MAX_PAYLOAD {
            return Err(usage(format!("the payload is {} bytes; commands take at most {MAX_PAYLOAD}", payload.len())));
        }
        let text = std::str::from_utf8(payload).map_err(|_| usage("the payload is not UTF-8 text".into()))?.trim();
        let shown: String = text.chars().take(32).collect();
        Ok(match name {
            "answer" => Command::Signal(CallCmd::Answer),
            "hangup" => Command::Signal(CallCmd::HangUp),
            "reject" => Command::Signal(CallCmd::Reject),
            "stop" => Command::Stop,
            // A bare press (Home Assistant's PRESS, or nothing) is door 1.
            "unlock" => match text {
                "" | "PRESS" => Command::Unlock(1),
                n => match n.parse::<u32>() {
                    Ok(d) if (1..=MAX_DOOR).contains(&d) => Command::Unlock(d),
                    _ => return Err(usage(format!("unlock takes a door number 1-{MAX_DOOR}, not {shown:?}"))),
                },
            },
            // Home Assistant's number entity sends `5` or `5.0`.
            "volume" => match text.parse::<f64>() {
                Ok(v) if v.fract() == 0.0 && (0.0..=100.0).contains(&v) => Command::Volume(v as u32),
                _ => return Err(usage(format!("volume takes a whole number 0-100, not {shown:?}"))),
            },
            "say" => {
                let n = text.chars().count();
                if n == 0 || n > MAX_TEXT {
                    return Err(usage(format!("say takes 1-{MAX_TEXT} characters of text, not {n}")));
                }
                Command::Say(text.to_string())
            }
            "sound" => {
                if text.contains(['/', '\\']) || text.starts_with('.') {
                    return Err(usage(format!("sound takes a name from the sounds directory, not a path ({shown:?})")));
                }
                match sounds.iter().find(|s| *s == text) {
                    Some(s) => Command::Sound(s.clone()),
                    None if sounds.is_empty() => return Err(usage("no sounds directory is served (serve --sounds DIR)".into())),
                    None => return Err(usage(format!("no sound named {shown:?}; the sounds are {}", sounds.join(", ")))),
                }
            }
            other => {
                let other: String = other.chars().take(32).collect();
                return Err(usage(format!("no command {other:?}; the commands are {}", NAMES.join(", "))));
            }
        })
    }
}

/// One camera's command rate: a bucket of [`BURST`] refilled at [`PER_SECOND`].
#[derive(Debug)]
pub struct Rate {
    tokens: f64,
    at: Instant,
    refusal_said: Option<Instant>,
}

/// What the rate says about one command.
#[derive(Debug, PartialEq)]
pub enum Admit {
    Yes,
    /// Refused, and the refusal is to be said.
    NoSay,
    /// Refused, said already within the last second.
    NoQuiet,
}

impl Default for Rate {
    fn default() -> Self {
        Rate { tokens: BURST, at: Instant::now(), refusal_said: None }
    }
}

impl Rate {
    pub fn admit(&mut self) -> Admit {
        let now = Instant::now();
        self.tokens = (self.tokens + (now - self.at).as_secs_f64() * PER_SECOND).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Admit::Yes;
        }
        match self.refusal_said {
            Some(at) if now - at < SAY_REFUSAL_EVERY => Admit::NoQuiet,
            _ => {
                self.refusal_said = Some(now);
                Admit::NoSay
            }
        }
    }
}

/// The refusal a command over the rate gets.
pub fn rate_refusal() -> serde_json::Value {
    serde_json::json!({
        "reason": "rate_limited",
        "message": format!("more than {BURST} commands at once or {PER_SECOND} a second for this camera; this one and the others until then were dropped"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_bounded_and_names_are_never_paths() {
        let sounds = vec!["chime".to_string(), "dog bark".to_string()];
        assert_eq!(Command::parse("unlock", b"PRESS", &sounds).ok(), Some(Command::Unlock(1)));
        assert_eq!(Command::parse("unlock", b"2", &sounds).ok(), Some(Command::Unlock(2)));
        assert!(Command::parse("unlock", b"0", &sounds).is_err());
        assert_eq!(Command::parse("volume", b"7.0", &sounds).ok(), Some(Command::Volume(7)));
        assert!(Command::parse("volume", b"7.5", &sounds).is_err());
        assert!(Command::parse("volume", b"-1", &sounds).is_err());
        assert_eq!(Command::parse("sound", b"dog bark", &sounds).ok(), Some(Command::Sound("dog bark".into())));
        for bad in ["../chime", "/etc/passwd", "..", "chime/../../x", "nosuch"] {
            assert!(Command::parse("sound", bad.as_bytes(), &sounds).is_err(), "{bad}");
        }
        assert!(Command::parse("say", "é".repeat(MAX_TEXT + 1).as_bytes(), &sounds).is_err());
        assert!(Command::parse("say", "é".repeat(MAX_TEXT).as_bytes(), &sounds).is_ok(), "characters, not bytes");
        assert!(Command::parse("say", &[0xff, 0xfe], &sounds).is_err());
        assert!(Command::parse("say", &vec![b'a'; MAX_PAYLOAD + 1], &sounds).is_err());
        assert!(Command::parse("reboot", b"", &sounds).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_lets_a_burst_through_then_one_a_second() {
        let mut r = Rate::default();
        let burst: Vec<Admit> = (0..7).map(|_| r.admit()).collect();
        assert_eq!(burst.iter().filter(|a| **a == Admit::Yes).count(), 5);
        assert_eq!(burst[5..], [Admit::NoSay, Admit::NoQuiet]);
        tokio::time::advance(Duration::from_millis(1000)).await;
        assert_eq!((r.admit(), r.admit()), (Admit::Yes, Admit::NoSay));
    }
}
