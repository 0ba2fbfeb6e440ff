//! The dialect's translation into polars expressions, for the embedded engine: formulas,
//! filters and pre-aggregations of measures (`panel`), attributes (`panel`) and row checks
//! (`ingest`).
//!
//! Each construct of the subset (`spec::dialect`) becomes the polars expression that SQL's
//! meaning asks for, the same as polars' own SQL front end builds for it, so results do not
//! depend on which of the two translated an expression:
//! - a number with a decimal point is a float literal, one without an integer literal (one with
//!   an exponent, `1e3`, a float); `'text'` a text literal; NULL an untyped null;
//! - `a / b` is true division (a float, ±Infinity or NaN where `b` is zero); `a <> b` is
//!   `NOT (a = b)`; unary minus of a literal negates it, of anything else is `0 - x`;
//! - `CASE WHEN` is polars' when/then/otherwise, NULL where no ELSE is given;
//! - `IN (…)` is membership in the literal list, unknown (NULL) instead of false when the list
//!   holds NULL; `BETWEEN` is `>= low AND <= high`;
//! - `sum` gives NULL, not 0, over a group without a value (SQL's sum); `avg` is the mean;
//!   `count(*)` the number of rows, `count(x)` the number of values; `ln` is the logarithm to
//!   base e (−Infinity at 0, NaN below).
//!
//! An expression is checked against the subset of its role first (`dialect::check`), so
//! everything outside it is refused with the dialect's message before translation.

use super::dialect::{self, Role};
use super::syntax::{Args, Binary, Expr, Function, Unary};
use polars::prelude::{AnyValue, Expr as PlExpr, LiteralValue, NULL, PlSmallStr, PolarsResult, Series, col, len, lit, polars_err, when};

/// The polars expression of `text` in `role`, or the dialect's message of why not.
pub fn to_polars(text: &str, role: Role) -> PolarsResult<PlExpr> {
    let refuse = |message: String| polars_err!(InvalidOperation: "'{text}': {message}");
    dialect::check(text, role).map_err(refuse)?;
    let parsed = dialect::parse(text).map_err(refuse)?;
    build(&parsed).map_err(refuse)
}

/// SQL's NULL of a condition (unknown).
fn unknown() -> PlExpr {
    lit(NULL).cast(polars::prelude::DataType::Boolean)
}

fn untyped_null() -> PlExpr {
    PlExpr::Literal(LiteralValue::untyped_null())
}

fn build(e: &Expr) -> Result<PlExpr, String> {
    let unexpected = || format!("'{e}' 不在表达式子集内 · '{e}' is outside the expression subset");
    Ok(match e {
        Expr::Column { name, .. } => col(name.as_str()),
        Expr::Number(_) | Expr::Text(_) | Expr::Null => literal(e, false).ok_or_else(unexpected)?,
        Expr::Nested(inner) => build(inner)?,
        Expr::Unary { op, expr } => match (op, bare(expr)) {
            (Unary::Minus, x @ Expr::Number(_)) => literal(x, true).ok_or_else(unexpected)?,
            (Unary::Plus, x @ (Expr::Number(_) | Expr::Text(_) | Expr::Null)) => literal(x, false).ok_or_else(unexpected)?,
            (Unary::Minus, x) => lit(0) - build(x)?,
            (Unary::Plus, x) => lit(0) + build(x)?,
            (Unary::Not, x) => build(x)?.not(),
        },
        Expr::Binary { left, op, right } => {
            let (l, r) = (build(left)?, build(right)?);
            match op {
                Binary::Plus => l + r,
                Binary::Minus => l - r,
                Binary::Multiply => l * r,
                Binary::Divide => l.true_div(r),
                Binary::Eq => l.eq(r),
                Binary::NotEq => l.eq(r).not(),
                Binary::Lt => l.lt(r),
                Binary::LtEq => l.lt_eq(r),
                Binary::Gt => l.gt(r),
                Binary::GtEq => l.gt_eq(r),
                Binary::And => l.and(r),
                Binary::Or => l.or(r),
                Binary::Modulo | Binary::Concat | Binary::Like { .. } => return Err(unexpected()),
            }
        }
        Expr::IsNull { expr, negated: false } => build(expr)?.is_null(),
        Expr::IsNull { expr, negated: true } => build(expr)?.is_not_null(),
        Expr::Between { expr, negated, low, high } => {
            let (x, low, high) = (build(expr)?, build(low)?, build(high)?);
            if *negated { x.clone().lt(low).or(x.gt(high)) } else { x.clone().gt_eq(low).and(x.lt_eq(high)) }
        }
        Expr::InList { expr, list, negated } => {
            let values: Vec<AnyValue<'static>> = list.iter().map(list_value).collect::<Option<_>>().ok_or_else(unexpected)?;
            let has_null = values.iter().any(|v| matches!(v, AnyValue::Null));
            let set = Series::from_any_values(PlSmallStr::EMPTY, &values, true).map_err(|error| format!("IN (…): {error}"))?;
            let membership = build(expr)?.is_in(lit(set).implode(false), false);
            let membership = if has_null { membership.or(unknown()) } else { membership };
            if *negated { membership.not() } else { membership }
        }
        Expr::Case { operand: None, whens, otherwise } => case(whens, otherwise.as_deref())?,
        Expr::Function(f) => function(f).ok_or_else(unexpected)??,
        Expr::Case { operand: Some(_), .. } | Expr::Bool(_) | Expr::Cast { .. } => return Err(unexpected()),
    })
}

/// `e` without the parentheses around it.
fn bare(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => bare(inner),
        other => other,
    }
}

/// A literal: `1.5` and `1e3` float, `15` integer, `'x'` text, NULL untyped; a number negated
/// when `negate`.
fn literal(e: &Expr, negate: bool) -> Option<PlExpr> {
    match e {
        Expr::Number(n) => number(n, negate),
        Expr::Text(s) if !negate => Some(lit(s.clone())),
        Expr::Null if !negate => Some(untyped_null()),
        _ => None,
    }
}

fn number(n: &str, negate: bool) -> Option<PlExpr> {
    let float = n.contains(['.', 'e', 'E']);
    if float { n.parse::<f64>().ok().map(|x| lit(if negate { -x } else { x })) } else { n.parse::<i64>().ok().map(|x| lit(if negate { -x } else { x })) }
}

/// A value of an IN list: a literal, or a negated number.
fn list_value(e: &Expr) -> Option<AnyValue<'static>> {
    let (v, negate) = match e {
        Expr::Unary { op: Unary::Minus, expr } => (&**expr, true),
        other => (other, false),
    };
    match v {
        Expr::Number(n) if n.contains(['.', 'e', 'E']) => n.parse::<f64>().ok().map(|x| AnyValue::Float64(if negate { -x } else { x })),
        Expr::Number(n) => n.parse::<i64>().ok().map(|x| AnyValue::Int64(if negate { -x } else { x })),
        Expr::Text(s) if !negate => Some(AnyValue::StringOwned(s.as_str().into())),
        Expr::Null if !negate => Some(AnyValue::Null),
        _ => None,
    }
}

fn case(whens: &[(Expr, Expr)], otherwise: Option<&Expr>) -> Result<PlExpr, String> {
    let otherwise = match otherwise {
        Some(e) => build(e)?,
        None => untyped_null(),
    };
    let Some(((condition, result), rest)) = whens.split_first() else { return Err("CASE 至少需要一个 WHEN · CASE needs a WHEN".to_string()) };
    let chain = when(build(condition)?).then(build(result)?);
    let Some(((condition, result), rest)) = rest.split_first() else { return Ok(chain.otherwise(otherwise)) };
    let mut chain = chain.when(build(condition)?).then(build(result)?);
    for (condition, result) in rest {
        chain = chain.when(build(condition)?).then(build(result)?);
    }
    Ok(chain.otherwise(otherwise))
}

/// The functions of the subset; None for any other shape (refused by the subset check first).
fn function(f: &Function) -> Option<Result<PlExpr, String>> {
    if f.distinct || f.filter.is_some() || f.over.is_some() {
        return None;
    }
    let name = f.lower_name();
    let arg = match &f.args {
        Args::Star if name == "count" => return Some(Ok(len())),
        Args::List(args) if args.len() == 1 => &args[0],
        _ => return None,
    };
    // count of a literal that is not NULL counts rows, as count(*).
    if name == "count" && matches!(arg, Expr::Number(_) | Expr::Text(_) | Expr::Bool(_)) {
        return Some(Ok(len()));
    }
    let x = match build(arg) {
        Ok(x) => x,
        Err(e) => return Some(Err(e)),
    };
    Some(Ok(match name.as_str() {
        // SQL's sum: NULL, not 0, when the group holds no value.
        "sum" => when(x.clone().null_count().lt(x.clone().len())).then(x.sum()).otherwise(untyped_null()),
        "avg" => x.mean(),
        "min" => x.min(),
        "max" => x.max(),
        "count" => x.count(),
        "abs" => x.abs(),
        "ln" => x.log(lit(std::f64::consts::E)),
        _ => return None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{DataFrame, IntoLazy};

    /// Evaluates `text` on a small frame; values by hand in each test.
    fn eval(text: &str, role: Role, frame: &DataFrame) -> Vec<Option<f64>> {
        let e = to_polars(text, role).unwrap();
        let out = frame.clone().lazy().select([e.cast(polars::prelude::DataType::Float64).alias("v")]).collect().unwrap();
        let values = out.column("v").unwrap().f64().unwrap().clone();
        (0..values.len()).map(|i| values.get(i)).collect()
    }

    fn frame() -> DataFrame {
        polars::df!(
            "a" => [Some(1.0), Some(2.0), None, Some(4.0)],
            "b" => [Some(2i64), Some(0), Some(5), None],
            "t" => [Some("投诉"), Some("咨询"), None, Some("意见")],
        )
        .unwrap()
    }

    #[test]
    fn aggregates_follow_sql() {
        let f = frame();
        // sum skips NULL: 1 + 2 + 4; avg likewise 7 / 3; count(*) 4 rows, count(a) 3 values.
        assert_eq!(eval("sum(a)", Role::Formula, &f), [Some(7.0)]);
        assert_eq!(eval("avg(a)", Role::Formula, &f), [Some(7.0 / 3.0)]);
        assert_eq!(eval("count(*)", Role::Formula, &f), [Some(4.0)]);
        assert_eq!(eval("count(a)", Role::Formula, &f), [Some(3.0)]);
        assert_eq!(eval("count(1)", Role::Formula, &f), [Some(4.0)]);
        assert_eq!(eval("max(b) - min(b)", Role::Formula, &f), [Some(5.0)]);
        // SQL's sum of no value is NULL (polars' own sum would give 0).
        let empty = polars::df!("a" => [None::<f64>, None]).unwrap();
        assert_eq!(eval("sum(a)", Role::Formula, &empty), [None]);
        // CASE counts 投诉 and 意见 (rows 1 and 4); NULL text is not in the list.
        assert_eq!(eval("sum(CASE WHEN t IN ('投诉', '意见') THEN 1.0 ELSE 0.0 END)", Role::Formula, &f), [Some(2.0)]);
        // 1 - 7 / (4 * 2)
        assert_eq!(eval("1 - sum(a) / (count(*) * 2)", Role::Formula, &f), [Some(1.0 - 7.0 / 8.0)]);
    }

    #[test]
    fn row_values_and_conditions_follow_sql() {
        let f = frame();
        // a / b: 1/2, 2/0 = +Infinity, NULL, NULL.
        assert_eq!(eval("a / b", Role::Attribute, &f), [Some(0.5), Some(f64::INFINITY), None, None]);
        assert_eq!(eval("-a + - 1", Role::Attribute, &f), [Some(-2.0), Some(-3.0), None, Some(-5.0)]);
        assert_eq!(eval("abs(0 - a) * 1e3", Role::Attribute, &f), [Some(1000.0), Some(2000.0), None, Some(4000.0)]);
        let ln: Vec<Option<f64>> = eval("ln(b)", Role::Attribute, &f);
        assert_eq!(ln, [Some(2f64.ln()), Some(f64::NEG_INFINITY), Some(5f64.ln()), None]);
        // Conditions: true 1, false 0, NULL stays NULL.
        assert_eq!(eval("a BETWEEN 2 AND 4", Role::Check, &f), [Some(0.0), Some(1.0), None, Some(1.0)]);
        assert_eq!(eval("a NOT BETWEEN 2 AND 3", Role::Check, &f), [Some(1.0), Some(0.0), None, Some(1.0)]);
        assert_eq!(eval("b <> 0 AND a < 4", Role::Check, &f), [Some(1.0), Some(0.0), None, Some(0.0)]);
        assert_eq!(eval("t NOT IN ('咨询')", Role::Check, &f), [Some(1.0), Some(0.0), None, Some(1.0)]);
        assert_eq!(eval("NOT (a IS NULL) OR b = 5", Role::Check, &f), [Some(1.0), Some(1.0), Some(1.0), Some(1.0)]);
        // IN with NULL in the list: no match is unknown, not false.
        assert_eq!(eval("b IN (2, NULL)", Role::Check, &f), [Some(1.0), None, None, None]);
        assert_eq!(eval("b IN (-5, 0)", Role::Check, &f), [Some(0.0), Some(1.0), Some(0.0), None]);
        // CASE without ELSE is NULL where no WHEN holds; the first WHEN that holds wins.
        assert_eq!(
            eval("CASE WHEN a > 1 THEN 10 WHEN a > 0 THEN 20 WHEN b = 5 THEN 30 END", Role::Attribute, &f),
            [Some(20.0), Some(10.0), Some(30.0), Some(10.0)]
        );
    }

    #[test]
    fn what_is_outside_the_subset_is_refused_with_the_dialects_message() {
        for (text, role) in [
            ("sqrt(a)", Role::Formula),
            ("a LIKE 'x%'", Role::Check),
            ("sum(a) > 1", Role::Check),
            ("max(a)", Role::Attribute),
            ("NOT a = 1", Role::Filter),
            ("a b", Role::Formula),
            ("a +", Role::Check),
        ] {
            let e = to_polars(text, role).expect_err(text).to_string();
            assert!(e.contains(text), "{text}: {e}");
        }
    }
}
