//! The reference text `--help` and the man page share: examples, the config file, the
//! environment, files and exit codes, each once. The man page gives each its own section; the
//! long help lists them after the options.

/// Examples for the main page: the command, and what it does.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("hiktalk play chime.wav frontdoor", "a file to a camera's speaker, in real time"),
    ("hiktalk say \"Leave the parcel by the door\" frontdoor garage", "text to speech, to two cameras in step"),
    ("hiktalk speak frontdoor", "a call: microphone to camera and back, until Ctrl-C"),
    ("hiktalk listen frontdoor -o porch.wav --duration 30", "the camera's microphone, into a file"),
    ("hiktalk status frontdoor --json", "model, firmware, talk channels and their codecs"),
    ("hiktalk say \"Hello\" sim", "no camera needed: the built-in simulated camera"),
];

/// The config file, as the man page and `--help` show it.
pub const CONFIG: &str = "\
[cameras.frontdoor]
host = \"192.168.1.64\"       # or: url = \"https://192.168.1.64:443/1\"
port = 80                    # optional, with scheme = \"http\" or \"https\"
user = \"admin\"
password_env = \"FRONTDOOR_PASSWORD\"   # or: password_file = \"~/.config/hiktalk/frontdoor.pw\"
channel = \"1\"                # optional: the talk channel
codec = \"G.711ulaw\"          # optional: what hiktalk encodes
tls_fingerprint = \"...\"      # https: the certificate's SHA-256, as hiktalk prints it
# insecure = true            # https: accept any certificate instead
# events = true              # serve: its rings, call state and motion in /api/events

[groups.downstairs]          # a group is usable wherever a camera is
cameras = [\"frontdoor\", \"garage\", \"http://10.0.0.7\"]";

/// How the password is found, in order.
pub const PASSWORD: &str = "\
The password comes, in order, from the URL (accepted, with a warning), --password-stdin, the \
camera's password_env, its password_file (warned about when other users can read it), \
HIKTALK_PASSWORD, or a prompt on a terminal (an empty answer is refused, Ctrl-C exits 130).";

/// Environment variables hiktalk reads.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("HIKTALK_CONFIG", "the config file, as --config"),
    ("HIKTALK_PASSWORD", "the password for cameras that name none of their own"),
    ("HIKTALK_MQTT_PASSWORD", "the broker password of `serve --mqtt` (or --mqtt-password-file)"),
    ("HIKTALK_SIM_PASSWORD", "the password `hiktalk sim` accepts, as its --password"),
    ("XDG_CONFIG_HOME", "where the default config file is (default: ~/.config)"),
    ("PATH", "where `say` finds espeak-ng"),
    ("COMPLETE", "set to a shell name (bash, zsh, fish, elvish, powershell): print that shell's completion script"),
];

/// Files hiktalk reads.
pub const FILES: &[(&str, &str)] = &[
    ("$XDG_CONFIG_HOME/hiktalk/config.toml", "the cameras and groups (see CONFIGURATION); none is needed for URLs and `sim`"),
    ("password_file", "a camera's password, first line; keep it mode 600"),
];

/// Exit codes: the code and what it means (`outcome::exit` has the same).
pub const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "finished: end of input, or speak stopped by the user"),
    ("1", "internal error"),
    ("2", "usage: bad flag, bad config, unknown camera, empty password (from any source)"),
    (
        "3",
        "input: unreadable, unsupported or empty audio; no microphone or speaker; an output file that cannot be written (listen -o); no speech engine (say)",
    ),
    ("4", "auth: password rejected, account locked, no usable challenge"),
    ("5", "busy: another client is talking on the channel"),
    ("6", "hang-up: the device ended the session (idle timeout, doorbell call)"),
    ("7", "network: cannot connect, reset, timeout, device stopped reading"),
    ("8", "protocol: not an ISAPI talk device, malformed answer, device error"),
    ("9", "codec: the channel's codec cannot be encoded or was refused"),
    ("10", "several devices: some failed, or all failed for different reasons"),
    ("11", "not ringing: answer found no ring (and no --wait)"),
    ("12", "timed out: wait-ring --timeout or answer --wait S passed without a ring"),
    ("13", "refused: the device refused a call or door command (invalidOperation, no such door), or to open an idle talk channel"),
    ("14", "ringing: play, say or speak found the doorbell ringing and sent nothing (--stop-ring stops the ring first)"),
    ("15", "check: at least one check failed (its line says what it means and what to do)"),
    (
        "130",
        "interrupted by SIGINT, SIGTERM or SIGHUP (play, say; status, close, volume, unlock, hangup and reject too: a request cut short says what it may still do and the command that clears it), or Ctrl-C at the password prompt",
    ),
];

/// `hiktalk --help`'s closing words.
pub fn long_help() -> String {
    let rows = |rows: &[(&str, &str)], width: usize| rows.iter().map(|(k, v)| format!("  {k:<width$}  {v}\n")).collect::<String>();
    format!(
        "Cameras are named in the config file, given as a URL (http://192.168.1.64, https://cam:443/1 \
where /1 is the talk channel), or `sim` for the built-in simulated camera. {PASSWORD}\n\n\
Examples:\n{}\nEnvironment:\n{}\nConfig file ($XDG_CONFIG_HOME/hiktalk/config.toml):\n{}\n\nExit codes:\n{}",
        EXAMPLES.iter().map(|(c, _)| format!("  {c}\n")).collect::<String>(),
        rows(ENVIRONMENT, 20),
        CONFIG.lines().map(|l| format!("  {l}\n")).collect::<String>().trim_end(),
        rows(EXIT_STATUS, 3).trim_end(),
    )
}
