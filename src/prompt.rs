//! The password prompt on a terminal. The terminal is put in raw mode (no echo, no signals)
//! rather than only having its echo turned off: Ctrl-C is then a key the prompt sees and
//! answers at once, where a SIGINT would be swallowed by hiktalk's own handlers while the
//! prompt still waits, and the terminal's settings are restored on every way out.

use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers, read};
use std::io::{Error, ErrorKind, Write};

/// Asks `question` on stderr and reads a line without echoing it. Ctrl-C gives an
/// [`ErrorKind::Interrupted`] error, Ctrl-D on an empty line [`ErrorKind::UnexpectedEof`].
pub fn password(question: &str) -> std::io::Result<String> {
    let mut err = std::io::stderr();
    let _ = write!(err, "{question}");
    let _ = err.flush();
    crossterm::terminal::enable_raw_mode()?;
    let answer = read_line();
    let _ = crossterm::terminal::disable_raw_mode();
    // Raw mode printed nothing for the Enter key: end the prompt's line.
    let _ = writeln!(err);
    answer
}

fn read_line() -> std::io::Result<String> {
    let mut line = String::new();
    loop {
        let Event::Key(k) = read()? else { continue };
        if k.kind == KeyEventKind::Release {
            continue;
        }
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match k.code {
            KeyCode::Enter => return Ok(line),
            KeyCode::Char('c') if ctrl => return Err(Error::new(ErrorKind::Interrupted, "interrupted")),
            KeyCode::Char('d') if ctrl && line.is_empty() => return Err(Error::new(ErrorKind::UnexpectedEof, "end of input")),
            KeyCode::Char('u') if ctrl => line.clear(),
            KeyCode::Backspace => {
                line.pop();
            }
            KeyCode::Char(c) if !ctrl => line.push(c),
            _ => {}
        }
    }
}
