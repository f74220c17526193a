//! The little CSV the public traces use: a header line, comma-separated fields, optional double
//! quotes (a doubled quote inside quotes is a quote). Columns are found by header name, so a trace
//! whose columns are reordered or extended still reads; a missing column is an error naming it.

use super::TraceError;

/// A parsed CSV table: the header and the data rows, each with its 1-based line number.
pub struct Table {
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

/// One data row, with its line number for error messages.
pub struct Row<'a> {
    table: &'a Table,
    line: usize,
    fields: &'a [String],
}

impl Table {
    /// Parses `text`; blank lines are skipped.
    pub fn parse(text: &str) -> Result<Table, TraceError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, head) = lines
            .next()
            .ok_or_else(|| TraceError::Format("the file is empty".into()))?;
        let header = split(head, 1)?.into_iter().map(|h| h.trim().to_string()).collect();
        let rows = lines
            .map(|(n, l)| split(l, n).map(|f| (n, f)))
            .collect::<Result<_, _>>()?;
        Ok(Table { header, rows })
    }

    /// The column index of `name`, or an error naming the columns the file has.
    pub fn column(&self, name: &str) -> Result<usize, TraceError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| TraceError::Format(format!("no column {name:?} (the file has: {})", self.header.join(", "))))
    }

    /// Whether the header has `name`.
    pub fn has(&self, name: &str) -> bool {
        self.header.iter().any(|h| h == name)
    }

    /// The data rows in file order.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|(line, fields)| Row {
            table: self,
            line: *line,
            fields,
        })
    }
}

impl Row<'_> {
    /// Line number in the file (1-based, header is line 1).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The field at column `col`, trimmed; empty when the row is short.
    pub fn get(&self, col: usize) -> &str {
        self.fields.get(col).map_or("", |f| f.trim())
    }

    /// The field at `col` parsed as a number, with an error naming line and column.
    pub fn num<T: std::str::FromStr>(&self, col: usize) -> Result<T, TraceError> {
        let v = self.get(col);
        v.parse().map_err(|_| {
            let name = self.table.header.get(col).map_or("?", String::as_str);
            TraceError::Format(format!("line {}: column {name}: {v:?} is not a number", self.line))
        })
    }

    /// Like [`Row::num`], but a float such as `"66.0"` is read and rounded to whole units.
    pub fn whole(&self, col: usize) -> Result<i64, TraceError> {
        let f: f64 = self.num(col)?;
        if !f.is_finite() || f.abs() > 9.0e15 {
            let name = self.table.header.get(col).map_or("?", String::as_str);
            return Err(TraceError::Format(format!(
                "line {}: column {name}: {f} is out of range",
                self.line
            )));
        }
        Ok(f.round() as i64)
    }
}

fn split(line: &str, n: usize) -> Result<Vec<String>, TraceError> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    if quoted {
        return Err(TraceError::Format(format!("line {n}: unterminated quote")));
    }
    fields.push(cur);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_columns_by_name_with_quotes_and_line_numbers() {
        let t = Table::parse("a,b,c\n1,\"x,\"\"y\"\"\",3\r\n\n4,,6\n").expect("parses");
        let b = t.column("b").expect("b");
        let rows: Vec<_> = t.rows().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].get(b), "x,\"y\"");
        assert_eq!(rows[1].get(b), "");
        assert_eq!(rows[1].line(), 4);
        assert_eq!(rows[1].num::<i64>(2).expect("6"), 6);
        assert!(t.column("z").is_err_and(|e| e.to_string().contains("a, b, c")));
        let e = rows[1].num::<i64>(1).expect_err("empty is no number");
        assert!(e.to_string().contains("line 4: column b"), "{e}");
        assert!(Table::parse("a\n\"open\n").is_err());
        assert!(Table::parse("").is_err());
    }

    #[test]
    fn whole_rounds_float_fields() {
        let t = Table::parse("d\n66.0\n2.5e3\nnan\n").expect("parses");
        let r: Vec<_> = t.rows().map(|r| r.whole(0)).collect();
        assert_eq!(r[0].as_ref().ok(), Some(&66));
        assert_eq!(r[1].as_ref().ok(), Some(&2500));
        assert!(r[2].is_err());
    }
}
