//! Case packing: what a `normalizedPackingString` says, and what packed quantities count.
//!
//! Finale keeps case-packed stock in its own `inventoryitem` rows, with the packing in
//! `normalizedPackingString` (`"12 cs 12/1"`: a case of 12 units; null = eaches), and order
//! lines carry the same field (finale-api.md §6.6, §7.1). Whether such a row's quantities
//! count *cases* or *units* is not documented (§7.1 says "presumably in cases"), so it is a
//! switch, [`PackedQuantities`] (`FINALE_PACKED_QUANTITIES=cases|units`, default `cases`).
//!
//! [`units_per_case`] reads the packing strictly: `<count> <unit> <units>/<cases>`, the
//! count equal to `units ÷ cases` (as in every example we have: `"36 cs 36/1"`,
//! `"12 cs 12/1"`), every number positive and finite. Anything else is a [`PackingError`]:
//! a caller quarantines the record rather than guess what it holds.

use std::fmt;
use std::str::FromStr;

/// What the quantities of a case-packed row or line count.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum PackedQuantities {
    /// Cases: `quantityOnHand: 3` on a `"12 cs 12/1"` row is 36 units (default: the reading
    /// of finale-api.md §7.1).
    #[default]
    Cases,
    /// Units: the quantity is already in units; the packing is informational.
    Units,
}

impl PackedQuantities {
    /// Units a `quantity` of a row or line packed as `packing` stands for (`None` packing or
    /// an empty one = eaches). In [`PackedQuantities::Units`] the quantity is returned as it
    /// is and the packing is not read.
    pub fn to_units(self, quantity: f64, packing: Option<&str>) -> Result<f64, PackingError> {
        match (self, packing.map(str::trim).filter(|p| !p.is_empty())) {
            (PackedQuantities::Units, _) | (_, None) => Ok(quantity),
            (PackedQuantities::Cases, Some(p)) => Ok(quantity * units_per_case(p)?),
        }
    }
}

/// An unknown `FINALE_PACKED_QUANTITIES` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is neither `cases` nor `units`")]
pub struct ParsePackedQuantitiesError(pub String);

impl FromStr for PackedQuantities {
    type Err = ParsePackedQuantitiesError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cases" => Ok(PackedQuantities::Cases),
            "units" => Ok(PackedQuantities::Units),
            _ => Err(ParsePackedQuantitiesError(s.trim().to_owned())),
        }
    }
}

impl fmt::Display for PackedQuantities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PackedQuantities::Cases => "cases",
            PackedQuantities::Units => "units",
        })
    }
}

/// A packing string that [`units_per_case`] cannot read with certainty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("packing `{packing}` cannot be read as `<count> <unit> <units>/<cases>`: {reason}")]
pub struct PackingError {
    /// The packing string as received.
    pub packing: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Units in one case of `packing` (see the module docs for the accepted form).
pub fn units_per_case(packing: &str) -> Result<f64, PackingError> {
    let fail = |reason| PackingError {
        packing: packing.to_owned(),
        reason,
    };
    let parts: Vec<&str> = packing.split_whitespace().collect();
    let [count, unit, ratio] = parts.as_slice() else {
        return Err(fail("expected three parts"));
    };
    let number = |s: &str| s.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0);
    let count = number(count).ok_or_else(|| fail("the count is not a positive number"))?;
    if unit.is_empty() || !unit.chars().all(char::is_alphabetic) {
        return Err(fail("the unit is not a word"));
    }
    let (units, cases) = ratio
        .split_once('/')
        .ok_or_else(|| fail("no `units/cases` ratio"))?;
    let units = number(units).ok_or_else(|| fail("the ratio's units are not a positive number"))?;
    let cases = number(cases).ok_or_else(|| fail("the ratio's cases are not a positive number"))?;
    let per_case = units / cases;
    if (per_case - count).abs() > 1e-9 * per_case.max(1.0) {
        return Err(fail("the count and the ratio disagree"));
    }
    Ok(per_case)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_packings_read_as_units_per_case() {
        assert_eq!(units_per_case("12 cs 12/1"), Ok(12.0));
        assert_eq!(units_per_case("36 cs 36/1"), Ok(36.0));
        assert_eq!(units_per_case("  6 pk 12/2 "), Ok(6.0));
        assert_eq!(units_per_case("0.5 cs 1/2"), Ok(0.5));
    }

    #[test]
    fn anything_uncertain_is_an_error_not_a_guess() {
        for bad in [
            "",
            "12",
            "cs 12/1",
            "12 cs",
            "12 cs 12",
            "12 cs 24/1",
            "0 cs 0/1",
            "-12 cs -12/1",
            "12 cs 12/0",
            "NaN cs NaN/1",
            "12 c5 12/1",
            "12 cs 12/1 extra",
            "dozen cs 12/1",
        ] {
            let e = units_per_case(bad).expect_err(bad);
            assert_eq!(e.packing, bad);
        }
    }

    #[test]
    fn the_switch_converts_cases_and_leaves_units() {
        let c = PackedQuantities::Cases;
        assert_eq!(c.to_units(3.0, Some("12 cs 12/1")), Ok(36.0));
        assert_eq!(c.to_units(3.0, None), Ok(3.0));
        assert_eq!(c.to_units(3.0, Some("  ")), Ok(3.0));
        assert!(c.to_units(3.0, Some("a dozen")).is_err());
        let u = PackedQuantities::Units;
        assert_eq!(u.to_units(36.0, Some("12 cs 12/1")), Ok(36.0));
        assert_eq!(u.to_units(36.0, Some("a dozen")), Ok(36.0));
        assert_eq!("Units".parse::<PackedQuantities>(), Ok(u));
        assert_eq!(" cases ".parse::<PackedQuantities>(), Ok(c));
        assert!("boxes".parse::<PackedQuantities>().is_err());
        assert_eq!(PackedQuantities::default(), c);
        assert_eq!(u.to_string(), "units");
    }
}
