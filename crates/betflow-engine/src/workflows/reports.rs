//! Reading many workflows at once: analytics, statistics, exports, and the per-step median
//! decision times that estimates use.

use std::sync::Arc;

use betflow_domain::time::now;
use betflow_domain::workflow::record::InstanceFilter;
use chrono::{DateTime, Utc};

use super::{WorkflowView, Workflows, check_filter};
use crate::EngineError;

/// Most workflows one XLSX export may contain (the file is built whole before it is sent).
pub const MAX_EXPORT: u64 = 10_000;
/// Workflows read per query while exporting.
pub const EXPORT_PAGE: u32 = 500;

/// Decision times of one step of one definition.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTiming {
    pub workflow_type: String,
    pub step_id: String,
    pub decisions: usize,
    pub median_minutes: f64,
    pub p90_minutes: f64,
}

/// The seed's workflow analytics, across definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Analytics {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub by_status: Vec<(String, u64)>,
    pub total: u64,
    pub overdue: u64,
    pub decision_times: Vec<StepTiming>,
    /// Workflows completed per UTC day, oldest first, every day of the period listed.
    pub throughput: Vec<(chrono::NaiveDate, u64)>,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * q).round() as usize;
    (sorted[idx.min(sorted.len() - 1)] * 100.0).round() / 100.0
}

/// Counts for the system statistics (the seed's getDatabaseStats).
#[derive(Debug, Clone, Default)]
pub struct WorkflowStats {
    pub by_status: Vec<(String, u64)>,
    pub by_type: Vec<(String, u64)>,
    pub definitions: usize,
    /// Published versions in this node's cache.
    pub cached_versions: u64,
    pub betting_content: u64,
    pub betting_lines: u64,
}

impl Workflows {
    /// Every workflow matching `filter`, a page at a time, newest first, for exports of any
    /// size: memory stays at one page however many rows match.
    pub fn export_pages(
        &self,
        filter: InstanceFilter,
    ) -> Result<
        impl futures::Stream<Item = Result<Vec<WorkflowView>, EngineError>> + Send + 'static,
        EngineError,
    > {
        check_filter(&filter)?;
        let this = self.clone();
        Ok(futures::stream::try_unfold(
            (this, filter, None, false),
            |(this, filter, before, done)| async move {
                if done {
                    return Ok(None);
                }
                let rows = this
                    .store
                    .scan_workflows(&filter, before, EXPORT_PAGE)
                    .await?;
                let last = rows.last().map(|w| (w.created_at, w.id));
                let done = rows.len() < EXPORT_PAGE as usize;
                if rows.is_empty() {
                    return Ok(None);
                }
                let views = this.views(rows).await?;
                Ok(Some((views, (this, filter, last, done))))
            },
        ))
    }

    /// Every workflow matching `filter`, in memory: for formats that cannot be written as they
    /// are read (XLSX), so at most [`MAX_EXPORT`].
    pub async fn export(
        &self,
        mut filter: InstanceFilter,
    ) -> Result<Vec<WorkflowView>, EngineError> {
        filter.page = betflow_domain::PageRequest::new(Some(1), Some(1))?;
        let total = self.list(&filter).await?.total;
        if total > MAX_EXPORT {
            return Err(EngineError::Unprocessable(format!(
                "{total} workflows match; this format holds at most {MAX_EXPORT}: narrow the \
                 filters or export CSV or JSON"
            )));
        }
        let mut out = Vec::new();
        let mut pages = std::pin::pin!(self.export_pages(filter)?);
        while let Some(page) = futures::TryStreamExt::try_next(&mut pages).await? {
            out.extend(page);
        }
        Ok(out)
    }

    /// Counts by status, decision times per step (median and p90), overdue workflows and
    /// completions per day, for workflows of the last `days` days (optionally one type).
    pub async fn analytics(
        &self,
        days: u32,
        workflow_type: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Analytics, EngineError> {
        let from = now - chrono::Duration::days(i64::from(days));
        let by_status = self
            .store
            .count_by_status(Some(from), workflow_type)
            .await?;
        let total = by_status.iter().map(|(_, n)| n).sum();
        let overdue = self.store.count_overdue(now, workflow_type).await?;
        let mut groups: std::collections::BTreeMap<(String, String), Vec<f64>> = Default::default();
        for (kind, step, entered, decided) in self.store.decision_times(from, workflow_type).await?
        {
            if let Some(entered) = entered {
                let minutes = (decided - entered).num_milliseconds().max(0) as f64 / 60_000.0;
                groups.entry((kind, step)).or_default().push(minutes);
            }
        }
        let decision_times = groups
            .into_iter()
            .map(|((workflow_type, step_id), mut v)| {
                v.sort_by(f64::total_cmp);
                StepTiming {
                    workflow_type,
                    step_id,
                    decisions: v.len(),
                    median_minutes: quantile(&v, 0.5),
                    p90_minutes: quantile(&v, 0.9),
                }
            })
            .collect();
        let mut per_day: std::collections::BTreeMap<chrono::NaiveDate, u64> = Default::default();
        let (mut day, last) = (from.date_naive(), now.date_naive());
        while day <= last {
            per_day.insert(day, 0);
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        for t in self.store.completion_times(from, workflow_type).await? {
            *per_day.entry(t.date_naive()).or_default() += 1;
        }
        Ok(Analytics {
            from,
            until: now,
            by_status,
            total,
            overdue,
            decision_times,
            throughput: per_day.into_iter().collect(),
        })
    }

    /// Workflows counted by status and by type over all time, and definitions.
    pub async fn stats(&self) -> Result<WorkflowStats, EngineError> {
        let (betting_content, betting_lines) = self.store.count_domain_rows().await?;
        Ok(WorkflowStats {
            by_status: self.store.count_by_status(None, None).await?,
            by_type: self.store.count_by_type(None).await?,
            definitions: self.store.list_definitions().await?.len(),
            cached_versions: self.versions.entry_count(),
            betting_content,
            betting_lines,
        })
    }

    /// Median minutes to decide each step of definition `key`, over the last 90 days.
    pub(super) async fn medians(
        &self,
        key: &str,
    ) -> Result<Arc<std::collections::HashMap<String, f64>>, EngineError> {
        // Concurrent misses for one key share a single load. Entries live a minute: an
        // estimate a minute stale is as good, and recomputing on every decision would make
        // each one read the definition's whole 90-day history.
        self.step_medians
            .try_get_with(key.to_owned(), async {
                let from = now() - chrono::Duration::days(90);
                let mut per_step: std::collections::HashMap<String, Vec<f64>> = Default::default();
                for (_, step, entered, decided) in
                    self.store.decision_times(from, Some(key)).await?
                {
                    if let Some(entered) = entered {
                        per_step
                            .entry(step)
                            .or_default()
                            .push((decided - entered).num_milliseconds().max(0) as f64 / 60_000.0);
                    }
                }
                let medians: std::collections::HashMap<String, f64> = per_step
                    .into_iter()
                    .map(|(step, mut v)| {
                        v.sort_by(f64::total_cmp);
                        (step, v[v.len() / 2])
                    })
                    .collect();
                Ok::<_, EngineError>(Arc::new(medians))
            })
            .await
            .map_err(|e: Arc<EngineError>| match Arc::try_unwrap(e) {
                Ok(e) => e,
                Err(shared) => EngineError::Internal(shared.to_string()),
            })
    }
}
