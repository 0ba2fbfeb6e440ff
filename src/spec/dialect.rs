//! The expression dialect of pipelines: the subset of SQL expressions that the embedded engine
//! (polars) and Spark SQL compute alike, checked on the parsed expression (`spec::syntax`), and its
//! two translations: into Spark SQL (here) and into polars expressions (`spec::expr`).
//!
//! Formulas, filters and pre-aggregations of indicators and features are computed by both
//! engines; attributes (per row of the station master) and row checks (per row of a source at
//! ingest) only by the embedded one, so a check may also say NOT, NOT IN and NOT BETWEEN.
//!
//! The subset:
//! - numbers, 'text', NULL; columns; `+ - * /`, unary minus, parentheses;
//! - the aggregates `sum avg min max count` (and `count(*)`), never nested, no DISTINCT,
//!   FILTER or OVER; the functions `ln` and `abs`;
//! - `CASE WHEN condition THEN value … [ELSE value] END`, where a condition is a comparison
//!   (`= <> != < <= > >=`), `IN (…)` of literals, `IS [NOT] NULL`, `BETWEEN`, joined by
//!   `AND`/`OR` (no NOT: the engines' NULL and false differ under it).
//!
//! How the translation keeps Spark equal to polars:
//! - literals are DOUBLE (Spark reads `1.0` as DECIMAL, and `avg` of a DECIMAL CASE rounds);
//!   every formula's result is cast to DOUBLE;
//! - `a / b` is `try_divide` (no DIVIDE_BY_ZERO under ANSI, whatever order Spark evaluates a
//!   guard in). On the way to the measure's value a zero divisor's NULL empties the cell as
//!   polars' ±Infinity or NaN does; inside an aggregate, a comparison or a divisor, where the
//!   value itself counts, a zero divisor gives polars' IEEE result (±Infinity, NaN) instead;
//!   `ln` likewise (Spark's `ln` of 0 and negatives is NULL, polars' −Infinity and NaN); both
//!   engines order NaN above every number in comparisons;
//! - `min`/`max` may not take a divided or logged value (polars' max skips NaN, Spark's
//!   returns it);
//! - the value of a measure that is not finite is NULL (the finite filter), as the embedded
//!   panel empties such a cell;
//! - kinds agree (`check_types`, from the plan's column types): arithmetic and aggregates other
//!   than `count` take numbers, a comparison, IN or BETWEEN compares values of one kind, CASE
//!   results are of one kind, and a formula gives a number (the embedded engine empties what
//!   Spark under ANSI refuses with a cast error).

use super::syntax::{Args, Binary, Expr, Function, Unary};

/// Where an expression stands in a measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The formula: one value per station × period (columns inside aggregates).
    Formula,
    /// A `pre_aggregate` column: one value per group.
    PreAggregate,
    /// The row `filter`: a condition.
    Filter,
    /// An attribute: one number per row of the station master (no aggregate).
    Attribute,
    /// A source's row check: a condition per row (no aggregate); evaluated only by the embedded
    /// engine at ingest, so NOT, NOT IN and NOT BETWEEN are allowed.
    Check,
}

impl Role {
    /// Whether the expression is evaluated row by row (no aggregate may appear).
    fn per_row(self) -> bool {
        matches!(self, Role::Filter | Role::Attribute | Role::Check)
    }

    /// Whether only the embedded engine evaluates the expression (Spark never sees it).
    fn embedded_only(self) -> bool {
        matches!(self, Role::Attribute | Role::Check)
    }

    /// Whether the expression is a condition (true, false or NULL per row).
    pub(crate) fn is_condition(self) -> bool {
        matches!(self, Role::Filter | Role::Check)
    }
}

/// Aggregates of the subset.
const AGGREGATES: [&str; 5] = ["sum", "avg", "min", "max", "count"];

/// Parses one expression; text left after it (`a b`, `sum(a) x`) is an error, located by
/// character.
pub(crate) fn parse(text: &str) -> Result<Expr, String> {
    super::syntax::parse(text).map_err(|e| format!("不是有效的 SQL 表达式 · not a valid SQL expression: {e}"))
}

/// The column names an expression reads, in order (empty when it does not parse).
pub fn columns(text: &str) -> Vec<String> {
    let Ok(expr) = parse(text) else { return Vec::new() };
    expr.columns()
        .into_iter()
        .filter_map(|c| match c {
            Expr::Column { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// Checks that an expression is inside the subset; the error says what is not and why.
pub fn check(text: &str, role: Role) -> Result<(), String> {
    to_spark(text, role).map(|_| ())
}

/// What a column or value holds, as far as the two engines treat it alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Number,
    Text,
    /// Month, quarter, date or timestamp.
    Time,
    /// NULL, or a column whose type is not known here.
    Any,
}

impl Kind {
    /// The kind of a declared column type.
    pub(crate) fn of(t: crate::spec::plan::ColumnType) -> Kind {
        use crate::spec::plan::ColumnType;
        match t {
            ColumnType::Text => Kind::Text,
            ColumnType::Month | ColumnType::Quarter | ColumnType::Date | ColumnType::Timestamp => Kind::Time,
            ColumnType::Integer | ColumnType::Number => Kind::Number,
        }
    }

    fn fits(self, other: Kind) -> bool {
        self == other || self == Kind::Any || other == Kind::Any
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Number => "数值 a number",
            Kind::Text => "文本 text",
            Kind::Time => "日期时间 a date or time",
            Kind::Any => "任意 any value",
        }
    }
}

/// Checks an expression of the subset against the types of the columns it reads (`kind_of`):
/// arithmetic and aggregates take numbers, a comparison compares values of one kind, and a
/// formula gives a number. Where types differ the engines do too: the embedded engine gives an
/// empty cell, Spark under ANSI stops with a cast error.
pub(crate) fn check_types(text: &str, role: Role, kind_of: &dyn Fn(&str) -> Kind) -> Result<(), String> {
    let expr = parse(text)?;
    let t = Translator { role, kind_of: Some(kind_of) };
    let at = At { in_aggregate: false, strict: role.is_condition() };
    match role {
        Role::Filter | Role::Check => t.condition(&expr, at).map(|_| ()),
        Role::Formula | Role::PreAggregate | Role::Attribute => {
            let v = t.value(&expr, at)?;
            if v.kind.fits(Kind::Number) { Ok(()) } else { Err(mismatch(role, text, v.kind, "公式的值 a formula's value")) }
        }
    }
}

/// The message of a value of the wrong kind.
fn mismatch(role: Role, what: &str, kind: Kind, needs: &str) -> String {
    if role.embedded_only() {
        return format!("'{what}' 是{}，而{needs}须为数值 · '{what}' is {}, where {needs} takes a number", kind.label(), kind.label());
    }
    format!(
        "'{what}' 是{}，而{needs}须为数值；两种引擎对此处理不同（内置引擎给出空值，Spark 在 ANSI 下报类型转换错误）· '{what}' is {}, where {needs} takes a number; the engines differ here (the embedded one gives an empty cell, Spark under ANSI stops with a cast error)",
        kind.label(),
        kind.label()
    )
}

/// The Spark SQL of an expression of the subset. A formula's value is cast to DOUBLE (the job
/// empties it when not finite: `finite`); a filter is a condition.
pub(crate) fn to_spark(text: &str, role: Role) -> Result<String, String> {
    let expr = parse(text)?;
    let t = Translator { role, kind_of: None };
    match role {
        Role::Filter | Role::Check => t.condition(&expr, At { in_aggregate: false, strict: true }),
        Role::Formula | Role::PreAggregate | Role::Attribute => {
            let v = t.value(&expr, At { in_aggregate: false, strict: false })?;
            Ok(if role == Role::Formula { format!("CAST({} AS DOUBLE)", v.sql) } else { v.sql })
        }
    }
}

/// NULL where `sql` is NaN or ±Infinity.
pub(crate) fn finite(sql: &str) -> String {
    format!("CASE WHEN isnan({sql}) OR abs({sql}) = double('Infinity') THEN NULL ELSE {sql} END")
}

/// A translated value: its SQL, whether it may be non-finite (it divides or takes a log), and
/// its kind.
struct Sql {
    sql: String,
    ieee: bool,
    kind: Kind,
}

struct Translator<'a> {
    role: Role,
    /// Column kinds, when types are checked (`check_types`).
    kind_of: Option<&'a dyn Fn(&str) -> Kind>,
}

/// Where a value stands: inside an aggregate's argument, and whether its exact non-finite value
/// matters there (`strict`: inside an aggregate, a comparison, a divisor) or only that it is not
/// finite (on the way to the measure's value, where NULL and ±Infinity or NaN both empty the cell).
#[derive(Clone, Copy)]
struct At {
    in_aggregate: bool,
    strict: bool,
}

impl At {
    fn strict(self) -> At {
        At { strict: true, ..self }
    }
}

/// The message of an expression outside the subset of `role`, with what the role may use.
fn outside(role: Role, what: &str) -> String {
    match role {
        Role::Check => format!(
            "{what} 不在行检查可用的表达式内 · {what} is outside what a check may use (a condition per row): comparisons (= <> < <= > >=) of numbers, 'text', columns, + - * /, ln, abs, CASE WHEN … THEN … ELSE … END; IN (literals), IS NULL, BETWEEN; AND, OR, NOT"
        ),
        Role::Attribute => format!(
            "{what} 不在属性可用的表达式内 · {what} is outside what an attribute may use (one number per row of the station master): numbers, columns, + - * /, ln, abs, CASE WHEN … THEN … ELSE … END with comparisons, IN, IS NULL, BETWEEN, AND, OR"
        ),
        Role::Formula | Role::PreAggregate | Role::Filter => format!(
            "{what} 不在两种引擎（内置与 Spark）一致计算的公式子集内 · {what} is outside the formula subset both engines (embedded and Spark) compute alike: numbers, 'text', columns, + - * /, sum avg min max count, ln, abs, CASE WHEN … THEN … ELSE … END with comparisons, IN, IS NULL, BETWEEN, AND, OR"
        ),
    }
}

/// A column name as a Spark identifier.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A text literal of Spark SQL (backslash escapes are on by default); it never holds a line
/// break, so a job's statements end at the `;` that ends a line.
pub(crate) fn text_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'").replace('\n', "\\n").replace('\r', "\\r"))
}

impl Translator<'_> {
    /// A number; the error names the operand of another kind (when types are checked).
    fn number(&self, e: &Expr, at: At, needs: &str) -> Result<Sql, String> {
        let v = self.value(e, at)?;
        if v.kind.fits(Kind::Number) { Ok(v) } else { Err(mismatch(self.role, &e.to_string(), v.kind, needs)) }
    }

    /// Values of one kind, for a comparison (when types are checked).
    fn alike(&self, values: &[(&Expr, &Sql)]) -> Result<(), String> {
        let Some(kind) = values.iter().map(|(_, v)| v.kind).find(|k| *k != Kind::Any) else { return Ok(()) };
        match values.iter().find(|(_, v)| !v.kind.fits(kind)) {
            None => Ok(()),
            Some((e, v)) if self.role.embedded_only() => Err(format!(
                "'{e}' 是{}，不能与{}比较 · '{e}' is {}, compared with {} (compare values of one kind)",
                v.kind.label(),
                kind.label(),
                v.kind.label(),
                kind.label()
            )),
            Some((e, v)) => Err(format!(
                "'{e}' 是{}，不能与{}比较；两种引擎对此处理不同 · '{e}' is {}, compared with {}; the engines differ here (compare values of one kind)",
                v.kind.label(),
                kind.label(),
                v.kind.label(),
                kind.label()
            )),
        }
    }

    /// A numeric (or text, for comparisons) value.
    fn value(&self, e: &Expr, at: At) -> Result<Sql, String> {
        let plain = |sql: String, kind: Kind| Ok(Sql { sql, ieee: false, kind });
        match e {
            Expr::Column { name, .. } => plain(ident(name), self.kind_of.map_or(Kind::Any, |k| k(name))),
            Expr::Number(n) => plain(double_literal(n), Kind::Number),
            Expr::Text(s) => plain(text_literal(s), Kind::Text),
            Expr::Null => plain("CAST(NULL AS DOUBLE)".to_string(), Kind::Any),
            Expr::Nested(inner) => {
                let v = self.value(inner, at)?;
                Ok(Sql { sql: format!("({})", v.sql), ..v })
            }
            Expr::Unary { op: Unary::Minus, expr } => {
                let v = self.number(expr, at, "取负 a negation")?;
                // `- -1` must not become `--1D`, a comment.
                let sql = if v.sql.starts_with('-') { format!("-({})", v.sql) } else { format!("-{}", v.sql) };
                Ok(Sql { sql, ..v })
            }
            Expr::Unary { op: Unary::Plus, expr } => self.number(expr, at, "取正 a plus sign"),
            Expr::Binary { left, op, right } => match op {
                Binary::Plus | Binary::Minus | Binary::Multiply => {
                    let (l, r) = (self.number(left, at, "算术 arithmetic")?, self.number(right, at, "算术 arithmetic")?);
                    Ok(Sql { sql: format!("{} {op} {}", l.sql, r.sql), ieee: l.ieee || r.ieee, kind: Kind::Number })
                }
                Binary::Divide => {
                    let (l, r) = (self.number(left, at, "除法 a division")?, self.number(right, at.strict(), "除法 a division")?);
                    let literal = nonzero_literal(right);
                    Ok(Sql { sql: divide(&l.sql, &r.sql, literal || !at.strict), ieee: !literal || l.ieee, kind: Kind::Number })
                }
                _ => Err(outside(self.role, &format!("'{e}'"))),
            },
            Expr::Function(f) => self.function(e, f, at),
            Expr::Case { operand: None, whens, otherwise } => self.case(whens, otherwise.as_deref(), at),
            Expr::Case { operand: Some(_), .. } => Err(outside(self.role, "CASE x WHEN …（请写成 CASE WHEN x = … · write CASE WHEN x = …）")),
            other => Err(outside(self.role, &format!("'{other}'"))),
        }
    }

    fn case(&self, whens: &[(Expr, Expr)], else_result: Option<&Expr>, at: At) -> Result<Sql, String> {
        let mut sql = String::from("CASE");
        let mut ieee = false;
        let mut results: Vec<(&Expr, Sql)> = Vec::new();
        for (condition, result) in whens {
            let v = self.value(result, at)?;
            ieee |= v.ieee;
            sql.push_str(&format!(" WHEN {} THEN {}", self.condition(condition, at)?, v.sql));
            results.push((result, v));
        }
        if let Some(e) = else_result {
            let v = self.value(e, at)?;
            ieee |= v.ieee;
            sql.push_str(&format!(" ELSE {}", v.sql));
            results.push((e, v));
        }
        sql.push_str(" END");
        self.alike(&results.iter().map(|(e, v)| (*e, v)).collect::<Vec<_>>())?;
        let kind = results.iter().map(|(_, v)| v.kind).find(|k| *k != Kind::Any).unwrap_or(Kind::Any);
        Ok(Sql { sql, ieee, kind })
    }

    /// A function call `e`, `f` its parts.
    fn function(&self, e: &Expr, f: &Function, at: At) -> Result<Sql, String> {
        let name = f.lower_name();
        let shown = format!("'{e}'");
        if f.filter.is_some() || f.over.is_some() || f.distinct {
            return Err(outside(self.role, &shown));
        }
        let aggregate = AGGREGATES.contains(&name.as_str());
        if aggregate && at.in_aggregate {
            return Err(outside(self.role, &format!("{shown}（聚合嵌套 · an aggregate inside an aggregate）")));
        }
        if aggregate && self.role.per_row() {
            let what = match self.role {
                Role::Attribute => "属性按站点主数据的行计算 · an attribute is evaluated per row of the station master",
                Role::Check => "检查按行计算 · a check is evaluated per row",
                _ => "筛选条件按行计算 · a filter is evaluated per row",
            };
            return Err(outside(self.role, &format!("{shown}（{what}）")));
        }
        match (name.as_str(), &f.args) {
            ("count", Args::Star) => Ok(Sql { sql: "count(*)".to_string(), ieee: false, kind: Kind::Number }),
            (_, Args::List(args)) if args.len() == 1 => {
                let arg = &args[0];
                let inner = if aggregate { At { in_aggregate: true, strict: true } } else { at };
                let v = if name == "count" { self.value(arg, inner)? } else { self.number(arg, inner, &shown)? };
                let v = Sql { kind: Kind::Number, ..v };
                match name.as_str() {
                    "sum" | "avg" | "count" => Ok(Sql { sql: format!("{name}({})", v.sql), ..v }),
                    "min" | "max" if v.ieee => Err(outside(
                        self.role,
                        &format!(
                            "{shown}（min/max 的参数含除法或 ln：内置引擎的 max 跳过 NaN，Spark 不跳过 · the argument divides or takes a log: the embedded max skips NaN, Spark's does not）"
                        ),
                    )),
                    "min" | "max" => Ok(Sql { sql: format!("{name}({})", v.sql), ieee: false, ..v }),
                    "abs" => Ok(Sql { sql: format!("abs({})", v.sql), ..v }),
                    "ln" if at.strict => Ok(Sql { sql: ln(&v.sql), ieee: true, ..v }),
                    "ln" => Ok(Sql { sql: format!("ln({})", v.sql), ieee: true, ..v }),
                    _ => Err(outside(self.role, &shown)),
                }
            }
            _ => Err(outside(self.role, &shown)),
        }
    }

    /// A condition of CASE WHEN or of a filter.
    fn condition(&self, e: &Expr, at: At) -> Result<String, String> {
        match e {
            Expr::Nested(inner) => Ok(format!("({})", self.condition(inner, at)?)),
            Expr::Binary { left, op: op @ (Binary::And | Binary::Or), right } => {
                Ok(format!("{} {op} {}", self.condition(left, at)?, self.condition(right, at)?))
            }
            Expr::Binary { left, op, right } if op.is_comparison() => {
                let (l, r) = (self.value(left, at.strict())?, self.value(right, at.strict())?);
                self.alike(&[(left, &l), (right, &r)])?;
                Ok(format!("{} {op} {}", l.sql, r.sql))
            }
            Expr::InList { expr, list, negated: false } => {
                let items: Vec<Sql> = list
                    .iter()
                    .map(|x| match x {
                        x if is_literal(x) => self.value(x, at),
                        Expr::Unary { op: Unary::Minus, expr } if is_literal(expr) => self.value(x, at),
                        other => Err(outside(self.role, &format!("IN (… {other} …)（IN 只接受常量 · IN takes literals only）"))),
                    })
                    .collect::<Result<_, _>>()?;
                let v = self.value(expr, at.strict())?;
                let mut all: Vec<(&Expr, &Sql)> = vec![(&**expr, &v)];
                all.extend(list.iter().zip(&items));
                self.alike(&all)?;
                Ok(format!("{} IN ({})", v.sql, items.iter().map(|i| i.sql.as_str()).collect::<Vec<_>>().join(", ")))
            }
            Expr::InList { expr, list, negated: true } if self.role == Role::Check => {
                let inner = self.condition(&Expr::InList { expr: expr.clone(), list: list.clone(), negated: false }, at)?;
                Ok(format!("NOT ({inner})"))
            }
            Expr::InList { negated: true, .. } => Err(outside(self.role, "NOT IN")),
            Expr::Unary { op: Unary::Not, expr } if self.role == Role::Check => Ok(format!("NOT ({})", self.condition(expr, at)?)),
            Expr::IsNull { expr, negated: false } => Ok(format!("{} IS NULL", self.value(expr, at.strict())?.sql)),
            Expr::IsNull { expr, negated: true } => Ok(format!("{} IS NOT NULL", self.value(expr, at.strict())?.sql)),
            Expr::Between { expr, negated: false, low, high } => {
                let (v, l, h) = (self.value(expr, at.strict())?, self.value(low, at.strict())?, self.value(high, at.strict())?);
                self.alike(&[(expr, &v), (low, &l), (high, &h)])?;
                Ok(format!("{} BETWEEN {} AND {}", v.sql, l.sql, h.sql))
            }
            Expr::Between { expr, negated: true, low, high } if self.role == Role::Check => {
                let inner = self.condition(&Expr::Between { expr: expr.clone(), negated: false, low: low.clone(), high: high.clone() }, at)?;
                Ok(format!("NOT ({inner})"))
            }
            other => Err(outside(self.role, &format!("'{other}'（此处需要条件 · a condition is expected here）"))),
        }
    }
}

/// Whether `e` is a literal: a number, 'text', NULL, TRUE or FALSE.
fn is_literal(e: &Expr) -> bool {
    matches!(e, Expr::Number(_) | Expr::Text(_) | Expr::Null | Expr::Bool(_))
}

/// Whether a divisor is a literal number other than zero.
fn nonzero_literal(e: &Expr) -> bool {
    match e {
        Expr::Number(n) => n.parse::<f64>().is_ok_and(|x| x != 0.0),
        Expr::Nested(inner) => nonzero_literal(inner),
        _ => false,
    }
}

/// `a / b`: `try_divide` (never DIVIDE_BY_ZERO under ANSI, whatever order Spark evaluates a
/// guard in). Where the exact value matters (`plain` false) and `b` is zero, `a` × Infinity
/// (±Infinity, or NaN for 0 and NaN) as polars gives, not NULL.
fn divide(a: &str, b: &str, plain: bool) -> String {
    if plain {
        return format!("try_divide({a}, {b})");
    }
    format!("coalesce(try_divide({a}, {b}), CASE WHEN {b} = 0 THEN {a} * double('Infinity') END)")
}

/// A number as a DOUBLE literal (`0.10D`; Spark reads a bare `0.10` as DECIMAL).
fn double_literal(n: &str) -> String {
    let simple = n.split_once('.').map_or(!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()), |(i, f)| {
        !i.is_empty() && !f.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) && f.bytes().all(|b| b.is_ascii_digit())
    });
    if simple { format!("{n}D") } else { format!("CAST({n} AS DOUBLE)") }
}

/// `ln(x)` as polars computes it: −Infinity at 0 and NaN below (Spark's `ln` gives NULL).
fn ln(x: &str) -> String {
    format!("coalesce(ln({x}), CASE WHEN {x} = 0 THEN double('-Infinity') WHEN {x} < 0 THEN double('NaN') END)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(text: &str, role: Role) -> String {
        check(text, role).expect_err(text)
    }

    #[test]
    fn the_subset_rejects_what_the_engines_compute_differently() {
        assert!(rejected("max(a / b)", Role::Formula).contains("NaN"));
        assert!(rejected("min(ln(a))", Role::Formula).contains("NaN"));
        assert!(rejected("sum(avg(a))", Role::Formula).contains("aggregate inside"));
        assert!(rejected("CASE WHEN NOT a = 1 THEN 1 END", Role::Formula).contains("outside the formula subset"));
        assert!(rejected("sum(CASE WHEN a NOT IN ('x') THEN 1 ELSE 0 END)", Role::Formula).contains("NOT IN"));
        assert!(rejected("count(DISTINCT a)", Role::Formula).contains("count(DISTINCT a)"));
        assert!(rejected("sqrt(sum(a))", Role::Formula).contains("sqrt"));
        assert!(rejected("sum(a) FILTER (WHERE b > 1)", Role::Formula).contains("outside"));
        assert!(rejected("sum(a) % 2", Role::Formula).contains("%"));
        assert!(rejected("sum(a) > 1", Role::Formula).contains("outside"));
        assert!(rejected("sum(a) > 1", Role::Filter).contains("per row"));
        assert!(rejected("CASE kind WHEN 'x' THEN 1 END", Role::PreAggregate).contains("CASE WHEN x ="));
        assert!(rejected("sum(a", Role::Formula).contains("not a valid SQL expression"));
    }

    #[test]
    fn the_subset_takes_the_sample_formulas() {
        for f in [
            "sum(paid) / sum(billed)",
            "avg(CASE WHEN supplied > 0 AND (supplied - sold) / supplied >= 0 AND (supplied - sold) / supplied <= 0.10 THEN 1.0 ELSE 0.0 END)",
            "sum(CASE WHEN order_type IN ('投诉', '意见', '举报') THEN 1.0 ELSE 0.0 END) / max(customers) * 10000 / max(period_months)",
            "1 - sum(overlap_hours * customers_affected) / (max(customers) * max(period_hours))",
            "count(*) / max(party_members)",
            "max(CASE WHEN flag_type = '挂牌督办' THEN 1.0 ELSE 0.0 END)",
            "ln(max(customers))",
        ] {
            check(f, Role::Formula).unwrap();
        }
        check("supplied_kwh IS NOT NULL AND kind BETWEEN 1 AND 3 OR x = 'a''b'", Role::Filter).unwrap();
    }

    #[test]
    fn text_literals_and_names_are_escaped() {
        assert_eq!(to_spark("x = 'a''b\\c'", Role::Filter).unwrap(), "`x` = 'a\\'b\\\\c'");
        assert_eq!(ident("a`b"), "`a``b`");
        assert_eq!(to_spark("sum(a) - - -1", Role::Formula).unwrap(), "CAST(sum(`a`) - -(-1D) AS DOUBLE)");
        assert_eq!(to_spark("sum(x) / 1e3", Role::Formula).unwrap(), "CAST(try_divide(sum(`x`), CAST(1e3 AS DOUBLE)) AS DOUBLE)");
    }

    /// The committed expected Spark SQL of every measure of a pipeline, regenerated with
    /// DUIBIAO_UPDATE_SNAPSHOTS=1 (and then read before committing).
    pub(crate) fn snapshot(name: &str, actual: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spark").join(name);
        if std::env::var_os("DUIBIAO_UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, actual).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(expected == actual, "{} differs from the generated SQL:\n{actual}", path.display());
    }

    #[test]
    fn the_sample_formulas_translate_as_committed() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let plan = crate::spec::compile::compile_file(&root.join("pipelines/kashgar_quarterly.toml")).unwrap();
        let mut out = String::from("-- Spark SQL of each measure of pipelines/kashgar_quarterly.toml (spec::dialect)\n");
        for m in plan.indicators.iter().chain(&plan.features) {
            out.push_str(&format!("\n-- {}: {}\n", m.name, m.formula));
            if let Some(f) = &m.filter {
                out.push_str(&format!("-- filter: {}\n{}\n", f, to_spark(f, Role::Filter).unwrap()));
            }
            for (column, e) in m.pre_aggregate.iter().flat_map(|(_, c)| c) {
                out.push_str(&format!("-- pre_aggregate {column}: {e}\n{}\n", to_spark(e, Role::PreAggregate).unwrap()));
            }
            out.push_str(&to_spark(&m.formula, Role::Formula).unwrap());
            out.push('\n');
        }
        snapshot("kashgar_formulas.sql", &out);
    }

    #[test]
    fn kinds_must_agree_where_the_engines_would_differ() {
        let kinds = |name: &str| match name {
            "order_type" => Kind::Text,
            "start" => Kind::Time,
            "paid" => Kind::Number,
            _ => Kind::Any,
        };
        for bad in [
            "sum(order_type)",
            "max(order_type)",
            "avg(-order_type)",
            "sum(CASE WHEN order_type = 1 THEN 1.0 ELSE 0.0 END)",
            "sum(paid) + max(start)",
            "max(CASE WHEN paid > 0 THEN order_type ELSE 'x' END)",
            "sum(CASE WHEN paid > 0 THEN 1 ELSE 'x' END)",
            "avg(CASE WHEN order_type IN ('a', 2) THEN 1 ELSE 0 END)",
            "sum(CASE WHEN paid BETWEEN 'a' AND 'b' THEN 1 ELSE 0 END)",
        ] {
            let e = check_types(bad, Role::Formula, &kinds).expect_err(bad);
            assert!(e.contains("engines differ"), "{bad}: {e}");
        }
        for good in [
            "sum(paid) / count(*)",
            "sum(CASE WHEN order_type IN ('投诉', '意见') THEN 1.0 ELSE 0.0 END)",
            "count(order_type)",
            "max(CASE WHEN order_type = 'a' THEN 1.0 ELSE 0.0 END)",
            "sum(CASE WHEN order_type IS NULL THEN 1 ELSE NULL END)",
            "sum(unknown) / max(paid)",
        ] {
            check_types(good, Role::Formula, &kinds).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        check_types("order_type = '投诉' AND paid > 0", Role::Filter, &kinds).unwrap();
        assert!(check_types("order_type = 3", Role::Filter, &kinds).is_err());
        assert!(check_types("start > 'x'", Role::Filter, &kinds).is_err());
        // The formula's value must be a number.
        assert!(check_types("CASE WHEN paid > 0 THEN 'a' ELSE 'b' END", Role::PreAggregate, &kinds).is_err());
    }

    #[test]
    fn a_formula_that_mixes_kinds_is_a_located_spec_error() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("pipelines/kashgar_quarterly.toml")).unwrap();
        let bad = text.replace("formula = \"avg(om_index)\"", "formula = \"avg(station_name)\"");
        assert_ne!(bad, text);
        let line = bad.lines().position(|l| l.contains("avg(station_name)")).unwrap() + 1;
        let path = root.join("pipelines").join(format!(".dialect-kinds-test-{}.toml", std::process::id()));
        std::fs::write(&path, &bad).unwrap();
        let result = crate::spec::compile::compile_file(&path);
        std::fs::remove_file(&path).unwrap();
        let Err(errors) = result else { panic!("a text column averaged") };
        let shown = errors.to_string();
        assert!(shown.contains(&format!(":{line}:")) && shown.contains("station_name") && shown.contains("engines differ"), "{shown}");
    }

    #[test]
    fn a_formula_outside_the_subset_is_a_located_spec_error() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("pipelines/kashgar_quarterly.toml")).unwrap();
        let bad = text.replace("formula = \"avg(om_index)\"", "formula = \"max(om_index / om_index) + avg(om_index)\"");
        assert_ne!(bad, text);
        let line = bad.lines().position(|l| l.contains("max(om_index / om_index)")).unwrap() + 1;
        let dir = root.join("pipelines");
        let path = dir.join(format!(".dialect-test-{}.toml", std::process::id()));
        std::fs::write(&path, &bad).unwrap();
        let result = crate::spec::compile::compile_file(&path);
        std::fs::remove_file(&path).unwrap();
        let Err(errors) = result else { panic!("the formula is outside the subset") };
        let shown = errors.to_string();
        assert!(shown.contains(&format!(":{line}:")), "{shown}");
        assert!(shown.contains("om_index") && shown.contains("NaN"), "{shown}");
    }
}
