//! Local control: what happens at the door and at the indoor station, typed on the sim's
//! stdin (`hiktalk sim`) or called through `SimHandle::command`.

use super::alarm::Detection;
use super::call::{self, By, Cmd};
use super::door;
use super::shared::Shared;
use std::sync::Arc;

/// The commands and what they do, for `help` and `hiktalk sim --help`.
pub const COMMANDS: &str = "\
ring        a visitor presses the doorbell button (ends talk sessions)
answer      the resident answers the ringing call
hangup      the resident hangs up (a ringing call is rejected)
unlock [N]  the resident opens door N (default 1)
motion      the camera sees motion (VMD on the alertStream, for the alarm duration)
line        a line crossing (linedetection)
field       an intrusion (fielddetection)
tamper      the camera is covered (tamperdetection)
io          alarm input 1 fires (IO)
help        this list";

/// Runs one line; Ok says what happened, Err why nothing did.
pub(crate) fn run(shared: &Arc<Shared>, line: &str) -> Result<String, String> {
    let mut words = line.split_whitespace();
    let (Some(cmd), arg) = (words.next(), words.next()) else { return Ok(String::new()) };
    let doorbell = shared.cfg.profile.is_doorbell();
    let no_bell =
        || Err(format!("{cmd}: this simulated device (profile {}) has no doorbell; start it with --profile doorbell", shared.cfg.profile));
    match cmd.to_ascii_lowercase().as_str() {
        "ring" if doorbell => {
            call::ring(shared, By::Local);
            Ok("ringing".into())
        }
        "answer" if doorbell => call::signal(shared, Cmd::Answer, By::Local)
            .is_ok()
            .then(|| "answered: on call".to_string())
            .ok_or_else(|| "answer: nothing is ringing".into()),
        "hangup" | "hang-up" if doorbell => {
            call::hang_up(shared).then(|| "hung up: idle".to_string()).ok_or_else(|| "hangup: no call to end".into())
        }
        "unlock" | "open" if doorbell => {
            let door = match arg.map(str::parse::<u32>) {
                None => 1,
                Some(Ok(n)) => n,
                Some(Err(_)) => return Err(format!("unlock: {:?} is not a door number", arg.unwrap_or(""))),
            };
            let doors = shared.cfg.doors.max(1);
            if door::act(shared, u64::from(door), door::Cmd::Open, "local").is_ok() {
                Ok(format!("door {door} unlocked"))
            } else {
                Err(format!("unlock: no door {door} (doors 1-{doors})"))
            }
        }
        "ring" | "answer" | "hangup" | "hang-up" | "unlock" | "open" => no_bell(),
        "help" | "?" => Ok(format!("commands:\n{COMMANDS}")),
        word => match Detection::ALL.into_iter().find(|d| d.command() == word) {
            Some(what) => shared.detect(what).map(|()| format!("{word}: {} active", what.event_type())).map_err(|e| format!("{word}: {e}")),
            None => Err(format!("unknown command {cmd:?}; commands:\n{COMMANDS}")),
        },
    }
}
