//! The REST collections this client reads.
//!
//! Finale exposes each kind of record under `/{account}/api/{path}/`; a `GET` on that
//! *collection URL* returns every record (optionally narrowed by a `filter`) in column-major
//! form and counts against the hourly collection budget, while a `GET` on a *record URL*
//! (`/{account}/api/order/SO-1`) returns one plain object and costs only a GET unit.
//!
//! [`Collection`] names the collections the sync needs. Its [`FromStr`] is lenient so that
//! a CLI or a config file may say `products`, `stock` or `inventory_item`; [`Display`](std::fmt::Display)
//! and [`Collection::path`] always give Finale's own path segment.

use std::fmt;
use std::str::FromStr;

/// A Finale REST collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Collection {
    /// `product`: SKUs with suppliers, prices and reorder guidelines (no stock quantities).
    Product,
    /// `facility`: locations and their sublocations (a two-level tree).
    Facility,
    /// `inventoryitem`: stock rows; no filter at all, every read is the whole account.
    InventoryItem,
    /// `order`: sales, purchase, transfer and return orders.
    Order,
    /// `partygroup`: customers, suppliers and carriers.
    PartyGroup,
    /// `shipment`: sales shipments, receipts, transfers and returns.
    Shipment,
}

impl Collection {
    /// Every collection, in a stable order (small reference data first).
    pub const ALL: [Collection; 6] = [
        Collection::Facility,
        Collection::PartyGroup,
        Collection::Product,
        Collection::InventoryItem,
        Collection::Order,
        Collection::Shipment,
    ];

    /// Finale's path segment: the collection URL is `{api_root}{path}/`.
    pub const fn path(self) -> &'static str {
        match self {
            Collection::Product => "product",
            Collection::Facility => "facility",
            Collection::InventoryItem => "inventoryitem",
            Collection::Order => "order",
            Collection::PartyGroup => "partygroup",
            Collection::Shipment => "shipment",
        }
    }

    /// Whether the collection honours the `filter` query parameter (and therefore
    /// `lastUpdatedDate` windows). `inventoryitem` ignores it and always returns everything.
    pub const fn supports_filter(self) -> bool {
        !matches!(self, Collection::InventoryItem)
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// A collection name that [`Collection::from_str`] did not recognise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown Finale collection `{0}` (expected one of: product, facility, inventoryitem, order, partygroup, shipment)"
)]
pub struct UnknownCollection(pub String);

impl FromStr for Collection {
    type Err = UnknownCollection;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        let c = match norm.as_str() {
            "product" | "products" => Collection::Product,
            "facility" | "facilities" | "location" | "locations" => Collection::Facility,
            "inventoryitem" | "inventoryitems" | "inventory" | "stock" | "stocks" => {
                Collection::InventoryItem
            }
            "order" | "orders" => Collection::Order,
            "partygroup" | "partygroups" | "party" | "parties" => Collection::PartyGroup,
            "shipment" | "shipments" => Collection::Shipment,
            _ => return Err(UnknownCollection(s.to_owned())),
        };
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        for c in Collection::ALL {
            assert_eq!(c.to_string().parse::<Collection>(), Ok(c));
            assert_eq!(c.to_string(), c.path());
        }
    }

    #[test]
    fn lenient_names() {
        assert_eq!("products".parse(), Ok(Collection::Product));
        assert_eq!("Stock".parse(), Ok(Collection::InventoryItem));
        assert_eq!("inventory_item".parse(), Ok(Collection::InventoryItem));
        assert_eq!(" party-groups ".parse(), Ok(Collection::PartyGroup));
        assert_eq!("FACILITIES".parse(), Ok(Collection::Facility));
    }

    #[test]
    fn rejects_unknown_and_hostile() {
        for bad in [
            "",
            "prod",
            "order/../product",
            "inventoryitem\0",
            "ordersummary",
        ] {
            let err = bad.parse::<Collection>().expect_err(bad);
            assert_eq!(err.0, bad);
        }
    }

    #[test]
    fn only_inventoryitem_is_unfiltered() {
        let unfiltered: Vec<_> = Collection::ALL
            .into_iter()
            .filter(|c| !c.supports_filter())
            .collect();
        assert_eq!(unfiltered, vec![Collection::InventoryItem]);
    }
}
