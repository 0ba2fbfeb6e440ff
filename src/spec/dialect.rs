//! The formula dialect of indicators and features: the subset of SQL expressions that the
//! embedded engine (polars) and Spark SQL compute alike, checked on the parsed expression
//! (sqlparser), and its one translation into Spark SQL.
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
//!   panel empties such a cell.

use sqlparser::ast::{BinaryOperator, CaseWhen, DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator, Value};

/// Where an expression stands in a measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The formula: one value per station × period (columns inside aggregates).
    Formula,
    /// A `pre_aggregate` column: one value per group.
    PreAggregate,
    /// The row `filter`: a condition.
    Filter,
}

/// Aggregates of the subset.
const AGGREGATES: [&str; 5] = ["sum", "avg", "min", "max", "count"];

/// Parses one expression.
pub fn parse(text: &str) -> Result<Expr, String> {
    sqlparser::parser::Parser::new(&sqlparser::dialect::GenericDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| format!("不是有效的 SQL 表达式 · not a valid SQL expression: {e}"))
}

/// The column names an expression reads (empty when it does not parse).
pub fn columns(text: &str) -> Vec<String> {
    use sqlparser::ast::{Visit, Visitor};
    use std::ops::ControlFlow;
    struct Names(Vec<String>);
    impl Visitor for Names {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::Identifier(i) => self.0.push(i.value.clone()),
                Expr::CompoundIdentifier(parts) => self.0.extend(parts.last().map(|i| i.value.clone())),
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut names = Names(Vec::new());
    if let Ok(expr) = parse(text) {
        let _ = expr.visit(&mut names);
    }
    names.0
}

/// Checks that an expression is inside the subset; the error says what is not and why.
pub fn check(text: &str, role: Role) -> Result<(), String> {
    to_spark(text, role).map(|_| ())
}

/// The Spark SQL of an expression of the subset. A formula's value is cast to DOUBLE (the job
/// empties it when not finite: `finite`); a filter is a condition.
pub(crate) fn to_spark(text: &str, role: Role) -> Result<String, String> {
    let expr = parse(text)?;
    let t = Translator { role };
    match role {
        Role::Filter => t.condition(&expr, At { in_aggregate: false, strict: role == Role::Filter }),
        Role::Formula | Role::PreAggregate => {
            let v = t.value(&expr, At { in_aggregate: false, strict: role == Role::Filter })?;
            Ok(if role == Role::Formula { format!("CAST({} AS DOUBLE)", v.sql) } else { v.sql })
        }
    }
}

/// NULL where `sql` is NaN or ±Infinity.
pub(crate) fn finite(sql: &str) -> String {
    format!("CASE WHEN isnan({sql}) OR abs({sql}) = double('Infinity') THEN NULL ELSE {sql} END")
}

/// A translated value: its SQL and whether it may be non-finite (it divides or takes a log).
struct Sql {
    sql: String,
    ieee: bool,
}

struct Translator {
    role: Role,
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

fn outside(what: &str) -> String {
    format!(
        "{what} 不在两种引擎（内置与 Spark）一致计算的公式子集内 · {what} is outside the formula subset both engines (embedded and Spark) compute alike: numbers, 'text', columns, + - * /, sum avg min max count, ln, abs, CASE WHEN … THEN … ELSE … END with comparisons, IN, IS NULL, BETWEEN, AND, OR"
    )
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

impl Translator {
    /// A numeric (or text, for comparisons) value.
    fn value(&self, e: &Expr, at: At) -> Result<Sql, String> {
        let plain = |sql: String| Ok(Sql { sql, ieee: false });
        match e {
            Expr::Identifier(i) => plain(ident(&i.value)),
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => plain(double_literal(n)),
                Value::SingleQuotedString(s) => plain(text_literal(s)),
                Value::Null => plain("CAST(NULL AS DOUBLE)".to_string()),
                other => Err(outside(&format!("'{other}'"))),
            },
            Expr::Nested(inner) => {
                let v = self.value(inner, at)?;
                Ok(Sql { sql: format!("({})", v.sql), ieee: v.ieee })
            }
            Expr::UnaryOp { op: UnaryOperator::Minus, expr } => {
                let v = self.value(expr, at)?;
                // `- -1` must not become `--1D`, a comment.
                let sql = if v.sql.starts_with('-') { format!("-({})", v.sql) } else { format!("-{}", v.sql) };
                Ok(Sql { sql, ieee: v.ieee })
            }
            Expr::UnaryOp { op: UnaryOperator::Plus, expr } => self.value(expr, at),
            Expr::BinaryOp { left, op, right } => match op {
                BinaryOperator::Plus | BinaryOperator::Minus | BinaryOperator::Multiply => {
                    let (l, r) = (self.value(left, at)?, self.value(right, at)?);
                    Ok(Sql { sql: format!("{} {op} {}", l.sql, r.sql), ieee: l.ieee || r.ieee })
                }
                BinaryOperator::Divide => {
                    let (l, r) = (self.value(left, at)?, self.value(right, at.strict())?);
                    let literal = nonzero_literal(right);
                    Ok(Sql { sql: divide(&l.sql, &r.sql, literal || !at.strict), ieee: !literal || l.ieee })
                }
                other => Err(outside(&format!("'{other}'"))),
            },
            Expr::Function(f) => self.function(f, at),
            Expr::Case { operand: None, conditions, else_result, .. } => self.case(conditions, else_result.as_deref(), at),
            Expr::Case { operand: Some(_), .. } => Err(outside("CASE x WHEN …（请写成 CASE WHEN x = … · write CASE WHEN x = …）")),
            other => Err(outside(&format!("'{other}'"))),
        }
    }

    fn case(&self, conditions: &[CaseWhen], else_result: Option<&Expr>, at: At) -> Result<Sql, String> {
        let mut sql = String::from("CASE");
        let mut ieee = false;
        for w in conditions {
            let v = self.value(&w.result, at)?;
            ieee |= v.ieee;
            sql.push_str(&format!(" WHEN {} THEN {}", self.condition(&w.condition, at)?, v.sql));
        }
        if let Some(e) = else_result {
            let v = self.value(e, at)?;
            ieee |= v.ieee;
            sql.push_str(&format!(" ELSE {}", v.sql));
        }
        sql.push_str(" END");
        Ok(Sql { sql, ieee })
    }

    fn function(&self, f: &Function, at: At) -> Result<Sql, String> {
        let name = f.name.to_string().to_ascii_lowercase();
        let shown = format!("'{f}'");
        if f.filter.is_some()
            || f.over.is_some()
            || !f.within_group.is_empty()
            || f.null_treatment.is_some()
            || !matches!(f.parameters, FunctionArguments::None)
        {
            return Err(outside(&shown));
        }
        let FunctionArguments::List(list) = &f.args else { return Err(outside(&shown)) };
        if matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct)) || !list.clauses.is_empty() {
            return Err(outside(&shown));
        }
        let args: Vec<&FunctionArgExpr> = list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(x) => Ok(x),
                _ => Err(outside(&shown)),
            })
            .collect::<Result<_, _>>()?;
        let aggregate = AGGREGATES.contains(&name.as_str());
        if aggregate && at.in_aggregate {
            return Err(outside(&format!("{shown}（聚合嵌套 · an aggregate inside an aggregate）")));
        }
        if aggregate && self.role == Role::Filter {
            return Err(outside(&format!("{shown}（筛选条件按行计算 · a filter is evaluated per row）")));
        }
        match (name.as_str(), args.as_slice()) {
            ("count", [FunctionArgExpr::Wildcard]) => Ok(Sql { sql: "count(*)".to_string(), ieee: false }),
            (_, [FunctionArgExpr::Expr(arg)]) => {
                let inner = if aggregate { At { in_aggregate: true, strict: true } } else { at };
                let v = self.value(arg, inner)?;
                match name.as_str() {
                    "sum" | "avg" | "count" => Ok(Sql { sql: format!("{name}({})", v.sql), ieee: v.ieee }),
                    "min" | "max" if v.ieee => Err(outside(&format!(
                        "{shown}（min/max 的参数含除法或 ln：内置引擎的 max 跳过 NaN，Spark 不跳过 · the argument divides or takes a log: the embedded max skips NaN, Spark's does not）"
                    ))),
                    "min" | "max" => Ok(Sql { sql: format!("{name}({})", v.sql), ieee: false }),
                    "abs" => Ok(Sql { sql: format!("abs({})", v.sql), ieee: v.ieee }),
                    "ln" if at.strict => Ok(Sql { sql: ln(&v.sql), ieee: true }),
                    "ln" => Ok(Sql { sql: format!("ln({})", v.sql), ieee: true }),
                    _ => Err(outside(&shown)),
                }
            }
            _ => Err(outside(&shown)),
        }
    }

    /// A condition of CASE WHEN or of a filter.
    fn condition(&self, e: &Expr, at: At) -> Result<String, String> {
        match e {
            Expr::Nested(inner) => Ok(format!("({})", self.condition(inner, at)?)),
            Expr::BinaryOp { left, op: op @ (BinaryOperator::And | BinaryOperator::Or), right } => {
                Ok(format!("{} {op} {}", self.condition(left, at)?, self.condition(right, at)?))
            }
            Expr::BinaryOp { left, op, right } => {
                let op = match op {
                    BinaryOperator::Eq => "=",
                    BinaryOperator::NotEq => "<>",
                    BinaryOperator::Lt => "<",
                    BinaryOperator::LtEq => "<=",
                    BinaryOperator::Gt => ">",
                    BinaryOperator::GtEq => ">=",
                    other => return Err(outside(&format!("'{other}'"))),
                };
                Ok(format!("{} {op} {}", self.value(left, at.strict())?.sql, self.value(right, at.strict())?.sql))
            }
            Expr::InList { expr, list, negated: false } => {
                let items: Vec<String> = list
                    .iter()
                    .map(|x| match x {
                        Expr::Value(_) => self.value(x, at).map(|v| v.sql),
                        Expr::UnaryOp { op: UnaryOperator::Minus, expr } if matches!(**expr, Expr::Value(_)) => self.value(x, at).map(|v| v.sql),
                        other => Err(outside(&format!("IN (… {other} …)（IN 只接受常量 · IN takes literals only）"))),
                    })
                    .collect::<Result<_, _>>()?;
                Ok(format!("{} IN ({})", self.value(expr, at.strict())?.sql, items.join(", ")))
            }
            Expr::InList { negated: true, .. } => Err(outside("NOT IN")),
            Expr::IsNull(x) => Ok(format!("{} IS NULL", self.value(x, at.strict())?.sql)),
            Expr::IsNotNull(x) => Ok(format!("{} IS NOT NULL", self.value(x, at.strict())?.sql)),
            Expr::Between { expr, negated: false, low, high } => {
                Ok(format!("{} BETWEEN {} AND {}", self.value(expr, at.strict())?.sql, self.value(low, at.strict())?.sql, self.value(high, at.strict())?.sql))
            }
            other => Err(outside(&format!("'{other}'（此处需要条件 · a condition is expected here）"))),
        }
    }
}

/// Whether a divisor is a literal number other than zero.
fn nonzero_literal(e: &Expr) -> bool {
    match e {
        Expr::Value(v) => matches!(&v.value, Value::Number(n, _) if n.parse::<f64>().is_ok_and(|x| x != 0.0)),
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
