//! `duibiao sample`: a deterministic generator of the exports an analyst really receives.
//!
//! It draws a latent truth (station size, party activity, planted effects; see `model`), renders
//! it into each source system's own files (`exports`) in a region's export layout (`layout`),
//! plants documented dirt, and writes the sample's README, GROUND_TRUTH and manifest from the
//! same numbers (`docs`). Everything is keyed by the seed: the committed `sample_data/` is exactly
//! `duibiao sample --out sample_data`, and `sample_other/` is
//! `duibiao sample --layout other --out sample_other`.
//!
//! Layer `sample` (ARCHITECTURE.md): a side branch used only by `duibiao sample`; may import
//! `base`.

mod docs;
mod exports;
pub mod geography;
pub mod layout;
pub mod ledger;
pub mod model;
mod rng;
pub mod textfile;

pub use layout::Layout;

use std::io;
use std::path::Path;

use crate::base::period::Quarter;

/// The seed of the committed sample.
pub(crate) const DEFAULT_SEED: u64 = 20_201_231;

/// How big an organisation to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scale {
    /// Kashgar: 86 stations in 12 counties (the committed sample; 台区 and work-order volumes kept
    /// low so the repository stays small).
    Kashgar,
    /// A province: ~2 000 stations, ~400 000 台区, realistic work-order volumes.
    Province,
    /// National: ~20 000 stations.
    National,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Kashgar => "kashgar",
            Scale::Province => "province",
            Scale::National => "national",
        }
    }

    fn stations(self) -> usize {
        match self {
            Scale::Kashgar => 86,
            Scale::Province => 2_000,
            Scale::National => 20_000,
        }
    }

    /// Customers behind one 台区 (the kashgar sample keeps few, large 台区).
    fn customers_per_tai_area(self) -> f64 {
        match self {
            Scale::Kashgar => 380.0,
            Scale::Province | Scale::National => 58.0,
        }
    }

    fn repairs_per_10k(self) -> f64 {
        match self {
            Scale::Kashgar => 4.0,
            Scale::Province | Scale::National => 60.0,
        }
    }

    fn consultations_per_10k(self) -> f64 {
        match self {
            Scale::Kashgar => 3.0,
            Scale::Province | Scale::National => 40.0,
        }
    }

    /// The issuing company, as export titles name it.
    fn company(self) -> &'static str {
        match self {
            Scale::Kashgar => "国网喀什供电公司",
            Scale::Province => "国网示例省电力公司",
            Scale::National => "国家电网示例汇总",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub(crate) struct SampleOptions {
    pub seed: u64,
    pub scale: Scale,
    pub layout: Layout,
    pub first_quarter: Quarter,
    pub quarters: usize,
}

impl SampleOptions {
    /// A layout's own span (Kashgar 2019–2020, the other region 2021–2022) at a scale.
    pub fn new(seed: u64, scale: Scale, layout: Layout) -> SampleOptions {
        let spec = layout.spec();
        SampleOptions { seed, scale, layout, first_quarter: Quarter::new(spec.first_quarter.0, spec.first_quarter.1), quarters: spec.quarters }
    }
}

impl Default for SampleOptions {
    fn default() -> SampleOptions {
        SampleOptions::new(DEFAULT_SEED, Scale::Kashgar, Layout::Kashgar)
    }
}

/// Shared read-only state of one generation.
pub(crate) struct Context<'a> {
    pub seed: u64,
    pub scale: Scale,
    pub layout_name: Layout,
    pub layout: &'static layout::LayoutSpec,
    pub out: &'a Path,
    pub org: &'a geography::Organisation,
    pub truth: &'a model::Truth,
    pub quarters: &'a [Quarter],
}

impl Context<'_> {
    /// The planted count of a dirt target, stated in the layout for its reference number of
    /// stations and scaled with the number generated.
    fn dirt(&self, target: &str) -> usize {
        (self.layout.dirt(target) * self.org.stations.len()).div_ceil(self.layout.dirt_stations)
    }

    /// The issuing prefecture company, as export titles name it.
    fn company(&self) -> &'static str {
        self.layout.company.unwrap_or(self.scale.company())
    }

    /// Every month of the span, in order.
    fn months(&self) -> Vec<crate::base::period::Month> {
        self.quarters.iter().flat_map(|q| q.months()).collect()
    }

    /// First and last year of the span.
    fn span(&self) -> (i32, i32) {
        (self.quarters[0].year, self.quarters[self.quarters.len() - 1].year)
    }
}

/// Summary of a generation, for the command's output.
pub(crate) struct Generated {
    pub files: usize,
    pub bytes: u64,
    pub stations: usize,
}

/// Generates the whole sample into `out` (created if needed; existing files are overwritten).
pub(crate) fn generate(out: &Path, options: &SampleOptions) -> io::Result<Generated> {
    std::fs::create_dir_all(out)?;
    let spec = options.layout.spec();
    let org = match (options.layout, options.scale) {
        (Layout::Kashgar, Scale::Kashgar) => geography::kashgar(),
        (Layout::Kashgar, scale) => geography::synthetic(options.seed, scale.stations()),
        (Layout::Other, scale) => {
            let own = spec.stations.unwrap_or(scale.stations());
            geography::other(options.seed, if scale == Scale::Kashgar { own } else { scale.stations() })
        }
    };
    let quarters = options.first_quarter.span(options.quarters);
    let truth = model::draw(options.seed, options.scale, &org, &quarters, spec.effects);
    let ctx =
        Context { seed: options.seed, scale: options.scale, layout_name: options.layout, layout: spec, out, org: &org, truth: &truth, quarters: &quarters };

    type Writer = fn(&Context) -> io::Result<ledger::Export>;
    let writers: [Writer; 9] = [
        exports::master,
        exports::fee,
        exports::collection,
        exports::line_loss,
        exports::work_orders,
        exports::om_index,
        exports::outages,
        exports::party_activities,
        exports::star_ratings,
    ];
    // Exports are independent: write them side by side, merge in a fixed order.
    let results: Vec<io::Result<ledger::Export>> = {
        use rayon::prelude::*;
        let mut all: Vec<Writer> = writers.to_vec();
        all.push(exports::flags);
        all.par_iter().map(|w| w(&ctx)).collect()
    };
    let mut export = ledger::Export::default();
    for result in results {
        export.merge(result?);
    }
    docs::write(&ctx, &export)?;
    let bytes = walk_size(out)?;
    Ok(Generated { files: export.files.len() + docs::FILES.len(), bytes, stations: org.stations.len() })
}

fn walk_size(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { walk_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}
