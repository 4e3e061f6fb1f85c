//! What a terminal shows after some output: a small emulator of the few controls hiktalk's
//! output uses (carriage return, line feed, cursor up/down/column, erase in line and display;
//! colours ignored) with xterm's automatic wrap at the right margin, so tests can assert on
//! the lines a user would see, not on the byte stream.

/// The screen after `output`, `columns` wide: each logical line (rows joined where the
/// terminal wrapped a line that was too long), trailing blanks trimmed, empty lines dropped.
pub fn render(output: &str, columns: usize) -> Screen {
    let mut s = Screen { rows: vec![Row::default()], row: 0, col: 0, columns, wraps: 0 };
    let mut chars = output.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => s.col = 0,
            '\n' => s.down(),
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut params = String::new();
                let mut command = None;
                for p in chars.by_ref() {
                    if p.is_ascii_alphabetic() || p == '@' || p == '~' {
                        command = Some(p);
                        break;
                    }
                    params.push(p);
                }
                s.control(command, &params);
            }
            '\x1b' => {
                chars.next();
            }
            c if c.is_control() => {}
            c => s.put(c),
        }
    }
    s
}

#[derive(Default, Clone)]
struct Row {
    cells: Vec<char>,
    /// The previous row ran into this one (the terminal wrapped it).
    continued: bool,
}

pub struct Screen {
    rows: Vec<Row>,
    row: usize,
    col: usize,
    columns: usize,
    /// How many times a write ran past the right margin.
    pub wraps: usize,
}

impl Screen {
    fn down(&mut self) {
        self.row += 1;
        if self.row == self.rows.len() {
            self.rows.push(Row::default());
        }
    }

    fn put(&mut self, c: char) {
        if self.col >= self.columns {
            self.wraps += 1;
            self.down();
            self.col = 0;
            self.rows[self.row].continued = true;
        }
        let cells = &mut self.rows[self.row].cells;
        if cells.len() <= self.col {
            cells.resize(self.col + 1, ' ');
        }
        cells[self.col] = c;
        self.col += 1;
    }

    fn control(&mut self, command: Option<char>, params: &str) {
        let n = |default: usize| params.trim_start_matches('?').split(';').next().and_then(|p| p.parse().ok()).unwrap_or(default);
        match command {
            Some('A') => self.row = self.row.saturating_sub(n(1)),
            Some('B') => (0..n(1)).for_each(|_| self.down()),
            Some('G') => self.col = n(1).saturating_sub(1),
            Some('K') => {
                let cells = &mut self.rows[self.row].cells;
                match n(0) {
                    0 => cells.truncate(self.col),
                    1 => cells.iter_mut().take(self.col + 1).for_each(|c| *c = ' '),
                    _ => cells.clear(),
                }
            }
            Some('J') => {
                self.rows[self.row].cells.truncate(self.col);
                self.rows.truncate(self.row + 1);
            }
            _ => {}
        }
    }

    /// The logical lines shown, top to bottom.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for r in &self.rows {
            let text: String = r.cells.iter().collect();
            match (r.continued, lines.last_mut()) {
                (true, Some(last)) => last.push_str(&text),
                _ => lines.push(text),
            }
        }
        lines.into_iter().map(|l| l.trim_end().to_string()).filter(|l| !l.is_empty()).collect()
    }
}

#[test]
fn the_emulator_follows_carriage_returns_erases_and_wraps() {
    let s = render("abc\r\x1b[2Kxy\r\nline two\r\nbar 1\rbar 22\r\x1b[2K\x1b[1A\r\x1b[2Kdone\r\n", 80);
    assert_eq!(s.lines(), ["xy", "done"]);
    let s = render("0123456789abc\r\n", 10);
    assert_eq!((s.lines(), s.wraps), (vec!["0123456789abc".to_string()], 1));
}
