//! The latent truth behind the generated exports: station size, activity counts per quarter, and
//! the planted relations between party activity and the benchmark indicators.
//!
//! Every planted relation is a named constant here and is stated again, with the same numbers,
//! in the generated GROUND_TRUTH.md and ground_truth.json, which the analysis checks itself
//! against.

use super::Scale;
use super::geography::Organisation;
use super::rng::stream;
use crate::base::period::Quarter;

/// Party activity types (活动类型) as the party platform records them, with the quarterly base
/// count, how strongly the count grows with station size, and how much it varies from quarter
/// to quarter within a station (log-scale standard deviation).
pub(crate) struct ActivityType {
    pub code: &'static str,
    pub label: &'static str,
    /// Expected count per quarter for a median-sized station.
    pub per_quarter: f64,
    /// Elasticity of the count with respect to station size (customers).
    pub size_elasticity: f64,
    /// Quarter-to-quarter variation within a station (log sd of the campaign intensity).
    pub quarter_sd: f64,
    /// Scheduled meetings happen at a fixed rhythm (count = slots that were held).
    pub scheduled: bool,
}

pub(crate) const ACTIVITY_TYPES: &[ActivityType] = &[
    ActivityType { code: "party_congress", label: "支部党员大会", per_quarter: 1.0, size_elasticity: 0.0, quarter_sd: 0.0, scheduled: true },
    ActivityType { code: "committee_meeting", label: "支委会", per_quarter: 3.0, size_elasticity: 0.0, quarter_sd: 0.0, scheduled: true },
    ActivityType { code: "group_meeting", label: "党小组会", per_quarter: 3.0, size_elasticity: 0.0, quarter_sd: 0.0, scheduled: true },
    ActivityType { code: "party_lecture", label: "党课", per_quarter: 1.0, size_elasticity: 0.0, quarter_sd: 0.0, scheduled: true },
    ActivityType { code: "theme_day", label: "主题党日", per_quarter: 3.0, size_elasticity: 0.0, quarter_sd: 0.0, scheduled: true },
    ActivityType { code: "sanliang_sanbi", label: "三亮三比", per_quarter: 4.0, size_elasticity: 0.6, quarter_sd: 0.45, scheduled: false },
    ActivityType { code: "model_post", label: "党员示范岗", per_quarter: 2.5, size_elasticity: 0.3, quarter_sd: 0.3, scheduled: false },
    ActivityType { code: "service_team", label: "共产党员服务队", per_quarter: 3.0, size_elasticity: 0.6, quarter_sd: 0.35, scheduled: false },
    ActivityType { code: "supply_guarantee", label: "保电", per_quarter: 1.5, size_elasticity: 0.2, quarter_sd: 0.3, scheduled: false },
    ActivityType { code: "safety_study", label: "安全学习", per_quarter: 4.5, size_elasticity: 0.0, quarter_sd: 0.4, scheduled: false },
    ActivityType { code: "heart_talk", label: "谈心谈话", per_quarter: 2.5, size_elasticity: 0.0, quarter_sd: 0.3, scheduled: false },
    ActivityType { code: "volunteer", label: "志愿服务", per_quarter: 1.2, size_elasticity: 0.0, quarter_sd: 0.3, scheduled: false },
];

pub(crate) const SANLIANG: usize = 5;
pub(crate) const MODEL_POST: usize = 6;
pub(crate) const SERVICE_TEAM: usize = 7;
pub(crate) const SAFETY_STUDY: usize = 9;

/// What a planted effect acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Complaints per 10 000 customers (indicator `complaint_control`).
    Complaints,
    /// Fault outage count and duration (indicator `reliability`).
    FaultOutages,
    /// The unpaid share of billed fees (indicator `fee_recovery`).
    UnpaidFees,
}

/// A planted within-station relation: the target in quarter t + `lag` is multiplied by
/// exp(b × z), z the station's standardised count of `activity` in quarter t:
/// (count − expected) / √expected. Each layout plants its own (see `layout`); the sample's
/// GROUND_TRUTH states them with these numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Effect {
    pub id: &'static str,
    /// Index into ACTIVITY_TYPES.
    pub activity: usize,
    pub target: Target,
    /// Indicator code of the target, as the pipeline names it.
    pub indicator: &'static str,
    pub lag: usize,
    pub b: f64,
    /// Sign of the raw correlation (count vs indicator) and of the "better" one.
    pub raw_sign: &'static str,
    pub better_sign: &'static str,
    /// The mechanism in English (ground_truth.json).
    pub mechanism: &'static str,
    /// GROUND_TRUTH.md table cells: indicator label, direction, mechanism (Chinese).
    pub indicator_zh: &'static str,
    pub direction_zh: &'static str,
    pub mechanism_zh: &'static str,
}

/// Planted effect 1 of the Kashgar sample: complaints per 10 000 customers in quarter t+1 are
/// multiplied by exp(COMPLAINT_EFFECT × z), z the station's standardised 三亮三比 count in quarter t.
pub(crate) const COMPLAINT_EFFECT: f64 = -0.30;
/// Planted effect 2 of the Kashgar sample: fault outages (count and duration) in quarter t are
/// multiplied by exp(OUTAGE_EFFECT × z), z the station's standardised 安全学习 count in the same quarter.
pub(crate) const OUTAGE_EFFECT: f64 = -0.35;
/// Confounding: complaint rate per 10 000 customers grows with size as size^COMPLAINT_SIZE.
pub(crate) const COMPLAINT_SIZE: f64 = 0.45;
/// Median customers per station.
pub(crate) const MEDIAN_CUSTOMERS: f64 = 11_000.0;
/// Complaints (投诉 + 意见 + 举报) per 10 000 customers per month for a median station.
pub(crate) const COMPLAINTS_PER_10K_MONTH: f64 = 2.2;

/// What is fixed about a station over the whole span.
pub(crate) struct StationTruth {
    pub customers: u64,
    pub tai_areas: u64,
    pub party_members: u64,
    pub senior_managers: u64,
    pub area_managers: u64,
    /// customers / MEDIAN_CUSTOMERS
    pub size: f64,
    /// Multiplier on each activity type's count (station propensity).
    pub propensity: Vec<f64>,
    /// Station level of fee recovery (share), collection success, mean 台区 loss, O&M score.
    pub fee_recovery: f64,
    pub collection_rate: f64,
    pub loss_mean: f64,
    pub om_level: f64,
    /// Station multiplier on complaint rate and fault outage rate.
    pub complaint_level: f64,
    pub fault_level: f64,
}

/// What happens at a station in one quarter.
pub(crate) struct QuarterTruth {
    /// Realised activity count per type (same order as ACTIVITY_TYPES).
    pub activities: Vec<u64>,
    /// Complaints per 10 000 customers per month expected this quarter.
    pub complaint_rate: f64,
    /// Multiplier on fault outage count and duration this quarter.
    pub outage_factor: f64,
    /// Multiplier on the unpaid share of billed fees this quarter.
    pub unpaid_factor: f64,
}

pub(crate) struct Truth {
    pub stations: Vec<StationTruth>,
    /// quarters[station][quarter]
    pub quarters: Vec<Vec<QuarterTruth>>,
}

/// Draws the latent truth for every station and quarter, with the given planted effects.
pub(crate) fn draw(seed: u64, scale: Scale, org: &Organisation, quarters: &[Quarter], effects: &[Effect]) -> Truth {
    let stations: Vec<StationTruth> = org
        .stations
        .iter()
        .map(|station| {
            let mut d = stream(seed, "station", station.index as u64, 0);
            let customers = d.lognormal(MEDIAN_CUSTOMERS, 0.55).clamp(2_500.0, 60_000.0).round();
            let size = customers / MEDIAN_CUSTOMERS;
            let tai_areas = (customers / scale.customers_per_tai_area() * d.uniform(0.8, 1.25)).round().max(6.0);
            // Remote high-mountain stations (Tashkurgan-like county index 11) lose more on long lines.
            let remote = org.counties[station.county].short == "塔县";
            StationTruth {
                customers: customers as u64,
                tai_areas: tai_areas as u64,
                party_members: (3.0 + 2.5 * size.sqrt() + d.uniform(0.0, 3.0)).round() as u64,
                senior_managers: (1.0 + 1.4 * size + d.uniform(0.0, 1.5)).round() as u64,
                area_managers: (tai_areas / d.uniform(2.0, 4.0)).round().max(2.0) as u64,
                size,
                propensity: ACTIVITY_TYPES.iter().map(|_| d.lognormal(1.0, 0.25)).collect(),
                fee_recovery: (0.992 + 0.004 * d.normal()).clamp(0.97, 0.9995),
                collection_rate: d.uniform(0.965, 0.997),
                loss_mean: if remote { d.uniform(0.06, 0.085) } else { d.uniform(0.025, 0.065) },
                om_level: d.uniform(72.0, 92.0),
                complaint_level: d.lognormal(1.0, 0.2),
                fault_level: d.lognormal(1.0, 0.25),
            }
        })
        .collect();

    let quarters = stations
        .iter()
        .enumerate()
        .map(|(s, st)| {
            // z of every type in the quarters drawn so far, for lagged effects.
            let mut history: Vec<Vec<f64>> = Vec::with_capacity(quarters.len());
            quarters
                .iter()
                .map(|q| {
                    let mut d = stream(seed, "quarter", s as u64, q.ordinal() as u64);
                    let mut activities = Vec::with_capacity(ACTIVITY_TYPES.len());
                    let mut expected = Vec::with_capacity(ACTIVITY_TYPES.len());
                    for (t, kind) in ACTIVITY_TYPES.iter().enumerate() {
                        if kind.scheduled {
                            let held = (0..kind.per_quarter as u64).filter(|_| d.chance(0.9)).count();
                            activities.push(held as u64);
                            expected.push(kind.per_quarter * 0.9);
                        } else {
                            let mean = kind.per_quarter * st.size.powf(kind.size_elasticity) * st.propensity[t];
                            let intensity = (kind.quarter_sd * d.normal() - kind.quarter_sd.powi(2) / 2.0).exp();
                            activities.push(d.poisson(mean * intensity));
                            expected.push(mean);
                        }
                    }
                    let z: Vec<f64> = (0..ACTIVITY_TYPES.len()).map(|t| (activities[t] as f64 - expected[t]) / expected[t].sqrt()).collect();
                    history.push(z);
                    // Before the first quarter z is 0: no effect.
                    let factor = |target: Target| {
                        effects.iter().filter(|e| e.target == target).fold(1.0, |f, e| {
                            let z = history.len().checked_sub(1 + e.lag).map_or(0.0, |i| history[i][e.activity]);
                            f * (e.b * z).exp()
                        })
                    };
                    let complaint_rate = COMPLAINTS_PER_10K_MONTH * st.size.powf(COMPLAINT_SIZE) * st.complaint_level * factor(Target::Complaints);
                    QuarterTruth { activities, complaint_rate, outage_factor: factor(Target::FaultOutages), unpaid_factor: factor(Target::UnpaidFees) }
                })
                .collect()
        })
        .collect();
    Truth { stations, quarters }
}
