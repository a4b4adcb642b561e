//! The budget ledger on Postgres (`budget_spends`, see the engine's `sync::budget`).
//!
//! [`record_spends`] is one statement: the spends, summed per (bucket, slot) in Rust (one
//! upsert cannot touch a row twice), go in as arrays through `unnest` and add to the stored
//! counts with `ON CONFLICT ... DO UPDATE SET count = budget_spends.count + EXCLUDED.count`,
//! so concurrent writers never lose each other's spends.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tokio_postgres::Client;
use tokio_postgres::types::Type;

use crate::{BudgetSpend, StoreError};

pub(super) async fn record_spends(
    client: &Client,
    spends: &[BudgetSpend],
) -> Result<(), StoreError> {
    let mut sum: BTreeMap<(&str, DateTime<Utc>), i64> = BTreeMap::new();
    for s in spends.iter().filter(|s| s.count > 0) {
        *sum.entry((s.bucket.as_str(), s.slot)).or_insert(0) += i64::from(s.count);
    }
    if sum.is_empty() {
        return Ok(());
    }
    let buckets: Vec<&str> = sum.keys().map(|(b, _)| *b).collect();
    let slots: Vec<DateTime<Utc>> = sum.keys().map(|(_, s)| *s).collect();
    let counts: Vec<i64> = sum.values().copied().collect();
    client
        .execute_typed(
            "INSERT INTO budget_spends AS t (bucket, slot, count) \
             SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::int8[]) \
             ON CONFLICT (bucket, slot) DO UPDATE SET count = t.count + EXCLUDED.count",
            &[
                (&buckets, Type::TEXT_ARRAY),
                (&slots, Type::TIMESTAMPTZ_ARRAY),
                (&counts, Type::INT8_ARRAY),
            ],
        )
        .await
        .map_err(StoreError::query("record budget spends"))?;
    Ok(())
}

pub(super) async fn budget_spends(
    client: &Client,
    since: DateTime<Utc>,
) -> Result<Vec<BudgetSpend>, StoreError> {
    const WHAT: &str = "read budget spends";
    let rows = client
        .query_typed(
            "SELECT bucket, slot, count FROM budget_spends WHERE slot >= $1",
            &[(&since, Type::TIMESTAMPTZ)],
        )
        .await
        .map_err(StoreError::query(WHAT))?;
    let mut spends = rows
        .iter()
        .map(|r| {
            let (bucket, slot, count): (String, DateTime<Utc>, i64) =
                (|| Ok::<_, tokio_postgres::Error>((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))(
                )
                .map_err(StoreError::query(WHAT))?;
            Ok(BudgetSpend {
                bucket,
                slot,
                count: u32::try_from(count.max(0)).unwrap_or(u32::MAX),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    spends.sort();
    Ok(spends)
}

pub(super) async fn prune_budget_spends(
    client: &Client,
    before: DateTime<Utc>,
) -> Result<u64, StoreError> {
    client
        .execute_typed(
            "DELETE FROM budget_spends WHERE slot < $1",
            &[(&before, Type::TIMESTAMPTZ)],
        )
        .await
        .map_err(StoreError::query("prune budget spends"))
}
