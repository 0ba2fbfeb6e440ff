//! The syntax of the pipelines' expression dialect: a tokenizer and a precedence-climbing parser
//! into a small tree (`Expr`) that keeps where each column stands in the text.
//!
//! It reads a little more than the dialect (`spec::dialect`) allows — `%`, `||`, LIKE, CAST,
//! TRUE/FALSE, `count(DISTINCT …)`, `FILTER (WHERE …)`, `OVER (…)`, `CASE x WHEN …` — so that
//! the dialect can say of such an expression what a role may use instead of a bare syntax error.
//!
//! The grammar is SQL's, with its usual binding from loosest to tightest: OR; AND; NOT; IS;
//! comparisons, BETWEEN, IN, LIKE; `+ - ||`; `* / %`; unary minus and plus; `::`. Keywords are
//! case-insensitive; a column whose name is a keyword or is not a plain name is written in double
//! quotes (`"end"`, `"a b"`, `""` for a quote inside) or backticks. Text literals are in single
//! quotes (`''` for a quote inside; a backslash is itself). `--` to the end of a line and
//! `/* … */` are comments.

use std::fmt;

/// One parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A column, with the range of its name in the text (characters, from 0, end exclusive;
    /// quotes included).
    Column {
        name: String,
        quote: Option<char>,
        at: (usize, usize),
    },
    /// A number as written (`15`, `0.10`, `1e3`).
    Number(String),
    Text(String),
    Null,
    Bool(bool),
    Unary {
        op: Unary,
        expr: Box<Expr>,
    },
    Binary {
        left: Box<Expr>,
        op: Binary,
        right: Box<Expr>,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        negated: bool,
        low: Box<Expr>,
        high: Box<Expr>,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `CASE [operand] WHEN … THEN … [ELSE …] END`.
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Function(Function),
    /// `CAST(x AS type)` or `x::type`, the type as written.
    Cast {
        expr: Box<Expr>,
        to: String,
    },
    /// An expression in parentheses.
    Nested(Box<Expr>),
}

/// A function call: `name([DISTINCT] args) [FILTER (WHERE …)] [OVER …]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Function {
    /// The name as written.
    pub name: String,
    pub args: Args,
    pub distinct: bool,
    pub filter: Option<Box<Expr>>,
    /// The window as written, when there is one.
    pub over: Option<String>,
}

impl Function {
    /// The name in lower case, as the dialect compares it.
    pub(crate) fn lower_name(&self) -> String {
        self.name.to_lowercase()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Args {
    /// `(*)`.
    Star,
    List(Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unary {
    Minus,
    Plus,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binary {
    Plus,
    Minus,
    Multiply,
    Divide,
    Modulo,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Like { negated: bool, case_insensitive: bool },
}

impl Binary {
    /// `= <> < <= > >=` (`!=` is read as `<>`).
    pub(crate) fn is_comparison(self) -> bool {
        matches!(self, Binary::Eq | Binary::NotEq | Binary::Lt | Binary::LtEq | Binary::Gt | Binary::GtEq)
    }
}

impl fmt::Display for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Binary::Plus => "+",
            Binary::Minus => "-",
            Binary::Multiply => "*",
            Binary::Divide => "/",
            Binary::Modulo => "%",
            Binary::Concat => "||",
            Binary::Eq => "=",
            Binary::NotEq => "<>",
            Binary::Lt => "<",
            Binary::LtEq => "<=",
            Binary::Gt => ">",
            Binary::GtEq => ">=",
            Binary::And => "AND",
            Binary::Or => "OR",
            Binary::Like { negated: false, case_insensitive: false } => "LIKE",
            Binary::Like { negated: true, case_insensitive: false } => "NOT LIKE",
            Binary::Like { negated: false, case_insensitive: true } => "ILIKE",
            Binary::Like { negated: true, case_insensitive: true } => "NOT ILIKE",
        })
    }
}

fn list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{x}")?;
    }
    Ok(())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column { name, quote: None, .. } => f.write_str(name),
            Expr::Column { name, quote: Some(q), .. } => {
                let doubled: String = [*q, *q].iter().collect();
                write!(f, "{q}{}{q}", name.replace(*q, &doubled))
            }
            Expr::Number(n) => f.write_str(n),
            Expr::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Expr::Null => f.write_str("NULL"),
            Expr::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            // `- -1`, not `--1` (a comment).
            Expr::Unary { op: Unary::Minus, expr } if expr.to_string().starts_with('-') => write!(f, "- {expr}"),
            Expr::Unary { op: Unary::Minus, expr } => write!(f, "-{expr}"),
            Expr::Unary { op: Unary::Plus, expr } => write!(f, "+{expr}"),
            Expr::Unary { op: Unary::Not, expr } => write!(f, "NOT {expr}"),
            Expr::Binary { left, op, right } => write!(f, "{left} {op} {right}"),
            Expr::IsNull { expr, negated } => write!(f, "{expr} IS {}NULL", if *negated { "NOT " } else { "" }),
            Expr::Between { expr, negated, low, high } => write!(f, "{expr} {}BETWEEN {low} AND {high}", if *negated { "NOT " } else { "" }),
            Expr::InList { expr, list: items, negated } => {
                write!(f, "{expr} {}IN (", if *negated { "NOT " } else { "" })?;
                list(f, items)?;
                f.write_str(")")
            }
            Expr::Case { operand, whens, otherwise } => {
                f.write_str("CASE")?;
                if let Some(x) = operand {
                    write!(f, " {x}")?;
                }
                for (when, then) in whens {
                    write!(f, " WHEN {when} THEN {then}")?;
                }
                if let Some(x) = otherwise {
                    write!(f, " ELSE {x}")?;
                }
                f.write_str(" END")
            }
            Expr::Function(call) => {
                write!(f, "{}(", call.name)?;
                if call.distinct {
                    f.write_str("DISTINCT ")?;
                }
                match &call.args {
                    Args::Star => f.write_str("*")?,
                    Args::List(items) => list(f, items)?,
                }
                f.write_str(")")?;
                if let Some(x) = &call.filter {
                    write!(f, " FILTER (WHERE {x})")?;
                }
                if let Some(w) = &call.over {
                    write!(f, " OVER {w}")?;
                }
                Ok(())
            }
            Expr::Cast { expr, to } => write!(f, "CAST({expr} AS {to})"),
            Expr::Nested(x) => write!(f, "({x})"),
        }
    }
}

impl Expr {
    /// Every node of the tree, depth first, with whether it stands inside the argument of a
    /// function named in `aggregates` (`visit(node, inside)`).
    pub(crate) fn walk<'a>(&'a self, aggregates: &[&str], visit: &mut dyn FnMut(&'a Expr, bool)) {
        self.walk_at(aggregates, false, visit);
    }

    fn walk_at<'a>(&'a self, aggregates: &[&str], inside: bool, visit: &mut dyn FnMut(&'a Expr, bool)) {
        visit(self, inside);
        let mut go = |x: &'a Expr, inside: bool| x.walk_at(aggregates, inside, visit);
        match self {
            Expr::Column { .. } | Expr::Number(_) | Expr::Text(_) | Expr::Null | Expr::Bool(_) => {}
            Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } | Expr::Nested(expr) => go(expr, inside),
            Expr::Binary { left, right, .. } => {
                go(left, inside);
                go(right, inside);
            }
            Expr::Between { expr, low, high, .. } => {
                go(expr, inside);
                go(low, inside);
                go(high, inside);
            }
            Expr::InList { expr, list, .. } => {
                go(expr, inside);
                list.iter().for_each(|x| go(x, inside));
            }
            Expr::Case { operand, whens, otherwise } => {
                operand.iter().for_each(|x| go(x, inside));
                for (when, then) in whens {
                    go(when, inside);
                    go(then, inside);
                }
                otherwise.iter().for_each(|x| go(x, inside));
            }
            Expr::Function(call) => {
                let inner = inside || aggregates.contains(&call.lower_name().as_str());
                if let Args::List(items) = &call.args {
                    items.iter().for_each(|x| go(x, inner));
                }
                call.filter.iter().for_each(|x| go(x, inner));
            }
        }
    }

    /// The columns the expression reads, in order of appearance (repeats included).
    pub(crate) fn columns(&self) -> Vec<&Expr> {
        let mut found = Vec::new();
        self.walk(&[], &mut |x, _| {
            if matches!(x, Expr::Column { .. }) {
                found.push(x);
            }
        });
        found
    }
}

/// A token and the character range it spans.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Number(String),
    Text(String),
    /// A name or keyword; `quote` is the quote it was written in, if any.
    Word {
        text: String,
        quote: Option<char>,
    },
    /// An operator or punctuation: `+ - * / % || = <> != < <= > >= ( ) , . ::`.
    Op(&'static str),
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Number(n) => write!(f, "'{n}'"),
            Tok::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Tok::Word { text, quote: None } => write!(f, "'{text}'"),
            Tok::Word { text, quote: Some(q) } => write!(f, "'{q}{text}{q}'"),
            Tok::Op(op) => write!(f, "'{op}'"),
            Tok::End => f.write_str("the end"),
        }
    }
}

const OPERATORS: [&str; 19] = ["||", "<>", "!=", "<=", ">=", "::", "+", "-", "*", "/", "%", "=", "<", ">", "(", ")", ",", ".", ";"];

/// Full-width punctuation a Chinese input method types, and the ASCII the dialect expects.
const FULL_WIDTH: [(char, char); 14] = [
    ('（', '('),
    ('）', ')'),
    ('，', ','),
    ('＋', '+'),
    ('－', '-'),
    ('＊', '*'),
    ('／', '/'),
    ('＝', '='),
    ('＜', '<'),
    ('＞', '>'),
    ('‘', '\''),
    ('’', '\''),
    ('“', '"'),
    ('”', '"'),
];

/// Keywords that cannot be a column's plain name.
const KEYWORDS: [&str; 22] = [
    "AND", "OR", "NOT", "IS", "NULL", "TRUE", "FALSE", "BETWEEN", "IN", "LIKE", "ILIKE", "CASE", "WHEN", "THEN", "ELSE", "END", "CAST", "AS", "DISTINCT",
    "FILTER", "OVER", "WHERE",
];

fn name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn name_part(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize, usize)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            loop {
                if i + 1 >= chars.len() {
                    return Err(located(start, "注释 /* 没有以 */ 结束 · the comment /* has no closing */"));
                }
                if chars[i] == '*' && chars[i + 1] == '/' {
                    i += 2;
                    break;
                }
                i += 1;
            }
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i < chars.len() && chars[i] == '.' {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let sign = usize::from(matches!(chars.get(i + 1), Some('+' | '-')));
                if chars.get(i + 1 + sign).is_some_and(|d| d.is_ascii_digit()) {
                    i += 1 + sign;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            if i < chars.len() && name_part(chars[i]) {
                return Err(located(start, "数字后紧跟字母 · a number runs into a name; put an operator or a space between them"));
            }
            out.push((Tok::Number(chars[start..i].iter().collect()), start, i));
            continue;
        }
        if c == '\'' || c == '"' || c == '`' {
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        let what = if c == '\'' { "文本" } else { "带引号的列名" };
                        return Err(located(start, format!("{what}的引号 {c} 没有闭合 · the quote {c} opened here is not closed")));
                    }
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        value.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        value.push(other);
                        i += 1;
                    }
                }
            }
            let tok = if c == '\'' { Tok::Text(value) } else { Tok::Word { text: value, quote: Some(c) } };
            out.push((tok, start, i));
            continue;
        }
        if name_start(c) {
            while i < chars.len() && name_part(chars[i]) {
                i += 1;
            }
            out.push((Tok::Word { text: chars[start..i].iter().collect(), quote: None }, start, i));
            continue;
        }
        let rest: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        match OPERATORS.iter().find(|op| rest.starts_with(**op)) {
            Some(op) => {
                i += op.chars().count();
                out.push((Tok::Op(op), start, i));
            }
            None => match FULL_WIDTH.iter().find(|(wide, _)| *wide == c) {
                Some((_, ascii)) => {
                    return Err(located(start, format!("全角字符 '{c}' 应写成半角 '{ascii}' · the full-width '{c}' should be the ASCII '{ascii}'")));
                }
                None => return Err(located(start, format!("无法识别的字符 '{c}' · the character '{c}' is not part of an expression"))),
            },
        }
    }
    out.push((Tok::End, chars.len(), chars.len()));
    Ok(out)
}

/// A message located at character `at` (from 0) of the expression.
fn located(at: usize, what: impl fmt::Display) -> String {
    format!("第 {} 个字符 · at character {}: {what}", at + 1, at + 1)
}

/// Binding strengths (higher binds tighter).
const OR: u8 = 5;
const AND: u8 = 10;
const NOT: u8 = 15;
const IS: u8 = 17;
const LIKE: u8 = 19;
const COMPARE: u8 = 20;
const ADD: u8 = 30;
const MULTIPLY: u8 = 40;
const CAST: u8 = 50;

struct Parser {
    toks: Vec<(Tok, usize, usize)>,
    at: usize,
}

/// Parses one expression; text left after it is an error.
pub(crate) fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser { toks: tokenize(text)?, at: 0 };
    let e = p.expr(0)?;
    match p.peek() {
        Tok::End => Ok(e),
        rest => {
            let rest = rest.to_string();
            Err(located(p.start(), format!("表达式之后还有 {rest} · {rest} follows the expression")))
        }
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.toks[(self.at + ahead).min(self.toks.len() - 1)].0
    }

    fn start(&self) -> usize {
        self.toks[self.at].1
    }

    fn next(&mut self) -> (Tok, usize, usize) {
        let t = self.toks[self.at].clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    /// Whether the next token is the keyword `kw` (unquoted).
    fn is_keyword(&self, kw: &str) -> bool {
        keyword(self.peek(), kw)
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        let yes = self.is_keyword(kw);
        if yes {
            self.next();
        }
        yes
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        let yes = self.is_op(op);
        if yes {
            self.next();
        }
        yes
    }

    /// "Expected `zh`/`en`, found" the token at the cursor.
    fn expected(&self, zh: &str, en: &str) -> String {
        match self.peek() {
            Tok::End => located(self.start(), format!("此处应为 {zh}，却已到结尾 · expected {en}, found the end")),
            found => located(self.start(), format!("此处应为 {zh}，却是 {found} · expected {en}, found {found}")),
        }
    }

    fn expect_op(&mut self, op: &'static str) -> Result<(), String> {
        if self.eat_op(op) { Ok(()) } else { Err(self.expected(op, op)) }
    }

    fn expect_keyword(&mut self, kw: &'static str) -> Result<(), String> {
        if self.eat_keyword(kw) { Ok(()) } else { Err(self.expected(kw, kw)) }
    }

    /// The binding strength of the operator at the cursor, 0 when none follows.
    fn strength(&self) -> u8 {
        match self.peek() {
            Tok::Op("=" | "<>" | "!=" | "<" | "<=" | ">" | ">=") => COMPARE,
            Tok::Op("+" | "-" | "||") => ADD,
            Tok::Op("*" | "/" | "%") => MULTIPLY,
            Tok::Op("::") => CAST,
            t if keyword(t, "OR") => OR,
            t if keyword(t, "AND") => AND,
            t if keyword(t, "IS") => IS,
            t if keyword(t, "BETWEEN") || keyword(t, "IN") => COMPARE,
            t if keyword(t, "LIKE") || keyword(t, "ILIKE") => LIKE,
            t if keyword(t, "NOT") => match self.peek_at(1) {
                n if keyword(n, "BETWEEN") || keyword(n, "IN") => COMPARE,
                n if keyword(n, "LIKE") || keyword(n, "ILIKE") => LIKE,
                _ => 0,
            },
            _ => 0,
        }
    }

    fn expr(&mut self, weaker: u8) -> Result<Expr, String> {
        let mut left = self.prefix()?;
        loop {
            let strength = self.strength();
            if strength <= weaker {
                return Ok(left);
            }
            left = self.infix(left, strength)?;
        }
    }

    fn infix(&mut self, left: Expr, strength: u8) -> Result<Expr, String> {
        let (tok, _, _) = self.next();
        let binary = |left: Expr, op: Binary, right: Expr| Expr::Binary { left: Box::new(left), op, right: Box::new(right) };
        if let Tok::Op(op) = tok {
            if op == "::" {
                let to = self.type_name()?;
                return Ok(Expr::Cast { expr: Box::new(left), to });
            }
            let op = match op {
                "=" => Binary::Eq,
                "<>" | "!=" => Binary::NotEq,
                "<" => Binary::Lt,
                "<=" => Binary::LtEq,
                ">" => Binary::Gt,
                ">=" => Binary::GtEq,
                "+" => Binary::Plus,
                "-" => Binary::Minus,
                "||" => Binary::Concat,
                "*" => Binary::Multiply,
                "/" => Binary::Divide,
                _ => Binary::Modulo,
            };
            let right = self.expr(strength)?;
            return Ok(binary(left, op, right));
        }
        let negated = keyword(&tok, "NOT");
        let word = if negated { self.next().0 } else { tok };
        match word {
            w if keyword(&w, "OR") => Ok(binary(left, Binary::Or, self.expr(strength)?)),
            w if keyword(&w, "AND") => Ok(binary(left, Binary::And, self.expr(strength)?)),
            w if keyword(&w, "IS") => {
                let negated = self.eat_keyword("NOT");
                self.expect_keyword("NULL")?;
                Ok(Expr::IsNull { expr: Box::new(left), negated })
            }
            w if keyword(&w, "BETWEEN") => {
                let low = self.expr(COMPARE)?;
                self.expect_keyword("AND")?;
                let high = self.expr(COMPARE)?;
                Ok(Expr::Between { expr: Box::new(left), negated, low: Box::new(low), high: Box::new(high) })
            }
            w if keyword(&w, "IN") => {
                self.expect_op("(")?;
                let mut list = vec![self.expr(0)?];
                while self.eat_op(",") {
                    list.push(self.expr(0)?);
                }
                self.expect_op(")")?;
                Ok(Expr::InList { expr: Box::new(left), list, negated })
            }
            w => {
                let case_insensitive = keyword(&w, "ILIKE");
                Ok(binary(left, Binary::Like { negated, case_insensitive }, self.expr(LIKE)?))
            }
        }
    }

    /// A type name after AS or `::`, as written (`DOUBLE`, `DECIMAL(10, 2)`).
    fn type_name(&mut self) -> Result<String, String> {
        let Tok::Word { text, quote: None } = self.peek().clone() else { return Err(self.expected("类型名", "a type name")) };
        self.next();
        let mut to = text;
        if self.eat_op("(") {
            to.push('(');
            loop {
                match self.next().0 {
                    Tok::Op(")") => break,
                    Tok::End => return Err(self.expected(")", ")")),
                    Tok::Op(",") => to.push_str(", "),
                    t => to.push_str(t.to_string().trim_matches('\'')),
                }
            }
            to.push(')');
        }
        Ok(to)
    }

    fn prefix(&mut self) -> Result<Expr, String> {
        let start = self.start();
        let (tok, _, end) = self.next();
        match tok {
            Tok::Number(n) => Ok(Expr::Number(n)),
            Tok::Text(s) => Ok(Expr::Text(s)),
            Tok::Op("-") => Ok(Expr::Unary { op: Unary::Minus, expr: Box::new(self.expr(MULTIPLY)?) }),
            Tok::Op("+") => Ok(Expr::Unary { op: Unary::Plus, expr: Box::new(self.expr(MULTIPLY)?) }),
            Tok::Op("(") => {
                let inner = self.expr(0)?;
                if self.is_op(",") {
                    return Err(located(self.start(), "括号内的列表只用于 IN (…) · a list in parentheses is only for IN (…)"));
                }
                self.expect_op(")")?;
                Ok(Expr::Nested(Box::new(inner)))
            }
            Tok::Word { text, quote: None } if KEYWORDS.iter().any(|k| text.eq_ignore_ascii_case(k)) => match text.to_ascii_uppercase().as_str() {
                "NOT" => Ok(Expr::Unary { op: Unary::Not, expr: Box::new(self.expr(NOT)?) }),
                "NULL" => Ok(Expr::Null),
                "TRUE" => Ok(Expr::Bool(true)),
                "FALSE" => Ok(Expr::Bool(false)),
                "CASE" => self.case(),
                "CAST" => {
                    self.expect_op("(")?;
                    let expr = self.expr(0)?;
                    self.expect_keyword("AS")?;
                    let to = self.type_name()?;
                    self.expect_op(")")?;
                    Ok(Expr::Cast { expr: Box::new(expr), to })
                }
                _ => Err(located(
                    start,
                    format!(
                        "此处应为表达式，却是关键字 '{text}'（同名的列请写成 \"{text}\"）· expected an expression, found the keyword '{text}' (write a column of that name as \"{text}\")"
                    ),
                )),
            },
            Tok::Word { text, quote } => {
                if quote.is_none() && self.is_op("(") {
                    return self.function(text);
                }
                if self.is_op(".") {
                    return Err(located(
                        self.start(),
                        "列名不带表名或前缀 · a column is named alone, without a table or prefix: write the name after the '.' (\"a.b\" in double quotes if the dot is part of it)",
                    ));
                }
                Ok(Expr::Column { name: text, quote, at: (start, end) })
            }
            Tok::End => Err(located(start, "此处应为表达式，却已到结尾 · expected an expression, found the end")),
            t @ Tok::Op(_) => Err(located(start, format!("此处应为表达式，却是 {t} · expected an expression, found {t}"))),
        }
    }

    fn case(&mut self) -> Result<Expr, String> {
        if ["END", "ELSE", "THEN"].iter().any(|k| self.is_keyword(k)) {
            return Err(self.expected("WHEN", "WHEN"));
        }
        let operand = if self.is_keyword("WHEN") { None } else { Some(Box::new(self.expr(0)?)) };
        let mut whens = Vec::new();
        while self.eat_keyword("WHEN") {
            let when = self.expr(0)?;
            self.expect_keyword("THEN")?;
            whens.push((when, self.expr(0)?));
        }
        if whens.is_empty() {
            return Err(self.expected("WHEN", "WHEN"));
        }
        let otherwise = if self.eat_keyword("ELSE") { Some(Box::new(self.expr(0)?)) } else { None };
        self.expect_keyword("END")?;
        Ok(Expr::Case { operand, whens, otherwise })
    }

    fn function(&mut self, name: String) -> Result<Expr, String> {
        self.expect_op("(")?;
        let distinct = self.eat_keyword("DISTINCT");
        let args = if self.is_op("*") && !distinct {
            self.next();
            Args::Star
        } else if self.is_op(")") && !distinct {
            Args::List(Vec::new())
        } else {
            let mut items = vec![self.expr(0)?];
            while self.eat_op(",") {
                items.push(self.expr(0)?);
            }
            Args::List(items)
        };
        self.expect_op(")")?;
        let filter = if self.eat_keyword("FILTER") {
            self.expect_op("(")?;
            self.expect_keyword("WHERE")?;
            let condition = self.expr(0)?;
            self.expect_op(")")?;
            Some(Box::new(condition))
        } else {
            None
        };
        let over = if self.eat_keyword("OVER") { Some(self.window()?) } else { None };
        Ok(Expr::Function(Function { name, args, distinct, filter, over }))
    }

    /// A window after OVER, as written: a name, or the tokens up to the matching parenthesis.
    fn window(&mut self) -> Result<String, String> {
        if let Tok::Word { text, .. } = self.peek().clone() {
            self.next();
            return Ok(text);
        }
        self.expect_op("(")?;
        let mut depth = 1;
        let mut parts = vec!["(".to_string()];
        while depth > 0 {
            let t = self.next().0;
            match t {
                Tok::End => return Err(self.expected(")", ")")),
                Tok::Op("(") => depth += 1,
                Tok::Op(")") => depth -= 1,
                _ => {}
            }
            parts.push(match t {
                Tok::Word { text, .. } => text,
                Tok::Op(op) => op.to_string(),
                other => other.to_string(),
            });
        }
        Ok(parts.join(" ").replace("( ", "(").replace(" )", ")"))
    }
}

fn keyword(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word { text, quote: None } if text.eq_ignore_ascii_case(kw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        parse(text).map(|e| format!("{e:?}")).unwrap_or_else(|e| format!("error: {e}"))
    }

    fn col(name: &str, at: (usize, usize)) -> Box<Expr> {
        Box::new(Expr::Column { name: name.to_string(), quote: None, at })
    }

    #[test]
    fn operators_bind_as_in_sql() {
        // a + b * c = a + (b * c); a - b - c = (a - b) - c.
        let e = parse("a + b * c").unwrap();
        assert_eq!(e.to_string(), "a + b * c");
        let Expr::Binary { op: Binary::Plus, right, .. } = &e else { panic!("{e:?}") };
        assert!(matches!(**right, Expr::Binary { op: Binary::Multiply, .. }));
        let Expr::Binary { op: Binary::Minus, left, right } = parse("a - b - c").unwrap() else { panic!() };
        assert!(matches!(*left, Expr::Binary { op: Binary::Minus, .. }));
        assert_eq!(right, col("c", (8, 9)));
        // NOT x = 1 AND y → (NOT (x = 1)) AND y; a OR b AND c → a OR (b AND c).
        let Expr::Binary { op: Binary::And, left, .. } = parse("NOT x = 1 AND y").unwrap() else { panic!() };
        assert!(matches!(*left, Expr::Unary { op: Unary::Not, ref expr } if matches!(**expr, Expr::Binary { op: Binary::Eq, .. })));
        let Expr::Binary { op: Binary::Or, right, .. } = parse("a OR b AND c").unwrap() else { panic!() };
        assert!(matches!(*right, Expr::Binary { op: Binary::And, .. }));
        // BETWEEN's AND is its own: x BETWEEN 1 AND 2 AND y → (x BETWEEN 1 AND 2) AND y.
        let Expr::Binary { op: Binary::And, left, .. } = parse("x BETWEEN 1 AND 2 AND y").unwrap() else { panic!() };
        assert!(matches!(*left, Expr::Between { negated: false, .. }));
        // Unary minus binds tighter than *: -a * b = (-a) * b.
        let Expr::Binary { op: Binary::Multiply, left, .. } = parse("-a * b").unwrap() else { panic!() };
        assert!(matches!(*left, Expr::Unary { op: Unary::Minus, .. }));
        // a IS NOT NULL, x NOT IN (…), NOT BETWEEN, NOT LIKE.
        assert_eq!(parse("a IS NOT NULL").unwrap(), Expr::IsNull { expr: col("a", (0, 1)), negated: true });
        assert!(matches!(parse("t NOT IN ('x', NULL)").unwrap(), Expr::InList { negated: true, ref list, .. } if list.len() == 2));
        assert!(matches!(parse("t not between 1 and 2").unwrap(), Expr::Between { negated: true, .. }));
        assert!(matches!(parse("t NOT LIKE 'x%'").unwrap(), Expr::Binary { op: Binary::Like { negated: true, .. }, .. }));
    }

    #[test]
    fn literals_names_and_comments() {
        assert_eq!(parse("'a''b\\c'").unwrap(), Expr::Text("a'b\\c".to_string()));
        // Shown as written back: the quote inside doubled again.
        assert_eq!(parse("t IN ('a''b', NULL)").unwrap().to_string(), "t IN ('a''b', NULL)");
        assert_eq!(parse("1e3").unwrap(), Expr::Number("1e3".to_string()));
        assert_eq!(parse(".5").unwrap(), Expr::Number(".5".to_string()));
        assert_eq!(parse("2.50E-2").unwrap(), Expr::Number("2.50E-2".to_string()));
        // Names: Chinese, quoted with spaces and keywords; positions count characters.
        assert_eq!(parse("达标 / x").unwrap().columns().iter().map(|c| c.to_string()).collect::<Vec<_>>(), ["达标", "x"]);
        let Expr::Binary { left, .. } = parse("\"end\" + `a b`").unwrap() else { panic!() };
        assert_eq!(*left, Expr::Column { name: "end".to_string(), quote: Some('"'), at: (0, 5) });
        assert_eq!(parse("\"a\"\"b\"").unwrap().to_string(), "\"a\"\"b\"");
        assert_eq!(parse("a -- the rest\n + /* b */ 1").unwrap().to_string(), "a + 1");
        assert_eq!(parse("Sum(DISTINCT a) FILTER (WHERE b > 1)").unwrap().to_string(), "Sum(DISTINCT a) FILTER (WHERE b > 1)");
        assert_eq!(parse("sum(a) OVER (PARTITION BY b)").unwrap().to_string(), "sum(a) OVER (PARTITION BY b)");
        assert_eq!(parse("CAST(a AS DECIMAL(10, 2)) + a::int").unwrap().to_string(), "CAST(a AS DECIMAL(10, 2)) + CAST(a AS int)");
        assert_eq!(parse("count(*)").unwrap().to_string(), "count(*)");
        assert_eq!(parse("CASE k WHEN 1 THEN 'a' END").unwrap().to_string(), "CASE k WHEN 1 THEN 'a' END");
    }

    /// A small deterministic generator of expression text over every construct the parser reads.
    struct Gen(u64);

    impl Gen {
        fn n(&mut self, k: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % k
        }

        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[self.n(xs.len() as u64) as usize]
        }

        fn text(&mut self, depth: u32) -> String {
            if depth == 0 || self.n(4) == 0 {
                return self.pick(&["a", "达标", "\"q x\"", "`e`", "0", "2.5", "1e3", ".5", "-1", "'x'", "'a''b'", "NULL", "TRUE"]).to_string();
            }
            let d = depth - 1;
            match self.n(14) {
                0 => format!("{} {} {}", self.text(d), self.pick(&["+", "-", "*", "/", "%", "||"]), self.text(d)),
                1 => format!("{} {} {}", self.text(d), self.pick(&["=", "<>", "!=", "<", "<=", ">", ">="]), self.text(d)),
                2 => format!("{} {} {}", self.text(d), self.pick(&["AND", "or"]), self.text(d)),
                3 => format!("({})", self.text(d)),
                4 => format!("{}({})", self.pick(&["sum", "Avg", "ln", "count"]), self.text(d)),
                5 => self.pick(&["count(*)", "count(DISTINCT a)", "sum(a) FILTER (WHERE a > 1)", "sum(a) OVER (PARTITION BY a)", "f()"]).to_string(),
                6 => format!("CASE WHEN {} THEN {} ELSE {} END", self.text(d), self.text(d), self.text(d)),
                7 => format!("CASE {} WHEN {} THEN {} END", self.text(d), self.text(d), self.text(d)),
                8 => format!("{} {}IN ({}, {})", self.text(d), self.pick(&["", "NOT "]), self.text(0), self.text(0)),
                9 => format!("{} {}BETWEEN {} AND {}", self.text(d), self.pick(&["", "NOT "]), self.text(d), self.text(d)),
                10 => format!("{} IS {}NULL", self.text(d), self.pick(&["", "NOT "])),
                11 => format!("{}{}", self.pick(&["NOT ", "-", "+", "- "]), self.text(d)),
                12 => format!("{} {}LIKE {}", self.text(d), self.pick(&["", "NOT "]), self.text(0)),
                _ => self.pick(&["CAST(a AS DOUBLE)", "a::int", "CAST(a AS DECIMAL(10, 2))"]).to_string(),
            }
        }
    }

    /// The Debug form of a tree without the columns' character ranges.
    fn without_ranges(e: &Expr) -> String {
        let debug = format!("{e:?}");
        let mut out = String::new();
        let mut rest = debug.as_str();
        while let Some(i) = rest.find("at: (") {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            rest = &rest[rest.find(')').map_or(rest.len(), |j| j + 1)..];
        }
        out.push_str(rest);
        out
    }

    /// What an expression is shown as (in messages) reads back as the same tree: 20 000
    /// generated expressions, of which those that parse.
    #[test]
    fn an_expression_shown_reads_back_as_itself() {
        let mut g = Gen(0x2545F4914F6CDD1D);
        let mut parsed = 0;
        for _ in 0..20_000 {
            let depth = 1 + g.n(4) as u32;
            let text = g.text(depth);
            let Ok(e) = parse(&text) else { continue };
            parsed += 1;
            let shown = e.to_string();
            let again = parse(&shown).unwrap_or_else(|m| panic!("{text} shown as {shown}: {m}"));
            assert_eq!(without_ranges(&e), without_ranges(&again), "{text} shown as {shown}");
        }
        assert!(parsed > 10_000, "{parsed}");
    }

    #[test]
    fn mistakes_are_located() {
        for (text, at, says) in [
            ("paid <= ", 9, "expected an expression, found the end"),
            ("paid >= 0 billed", 11, "'billed' follows the expression"),
            ("sum(a", 6, "expected ), found the end"),
            ("a = 'x", 5, "the quote ' opened here is not closed"),
            ("a # 1", 3, "the character '#' is not part of an expression"),
            ("sum(paid）", 9, "the full-width '）' should be the ASCII ')'"),
            ("t = ‘x’", 5, "the full-width '‘' should be the ASCII '''"),
            ("t.a > 1", 2, "a column is named alone"),
            ("end + 1", 1, "expected an expression, found the keyword 'end'"),
            ("(a, b)", 3, "a list in parentheses is only for IN"),
            ("a IS 1", 6, "expected NULL, found '1'"),
            ("CASE END", 6, "expected WHEN, found 'END'"),
            ("3x", 1, "a number runs into a name"),
            ("a BETWEEN 1 OR 2", 13, "expected AND, found 'OR'"),
            ("CAST(a AS 1)", 11, "expected a type name, found '1'"),
        ] {
            let e = shown(text);
            assert!(e.contains(&format!("第 {at} 个字符 · at character {at}: ")) && e.contains(says), "{text}: {e}");
        }
    }
}
