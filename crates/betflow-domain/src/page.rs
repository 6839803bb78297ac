//! Offset pagination as the seeds' list envelope defines it: `page` (1-based), `limit`,
//! `total` and `totalPages`.

use serde::Serialize;

use crate::{DomainError, Violation};

/// Largest page a client may ask for; the seeds cap `limit` at 100.
pub const MAX_LIMIT: u32 = 100;
pub const DEFAULT_LIMIT: u32 = 20;

/// A validated page request. Construct it with [`PageRequest::new`] so no store ever sees a
/// zero or unbounded limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    limit: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl PageRequest {
    pub fn new(page: Option<u32>, limit: Option<u32>) -> Result<Self, DomainError> {
        let page = page.unwrap_or(1);
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        let mut violations = Vec::new();
        if page == 0 {
            violations.push(Violation::new("page", "must be at least 1"));
        }
        if limit == 0 || limit > MAX_LIMIT {
            violations.push(Violation::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        if violations.is_empty() {
            Ok(Self { page, limit })
        } else {
            Err(DomainError::Validation(violations))
        }
    }

    pub fn page(&self) -> u32 {
        self.page
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Rows to skip. Computed in `u64` so a huge page number cannot overflow.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.limit)
    }
}

/// One page of results plus what a client needs to page through the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u32,
    pub limit: u32,
    pub total_pages: u64,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, total: u64, request: PageRequest) -> Self {
        Self {
            items,
            total,
            page: request.page,
            limit: request.limit,
            total_pages: total.div_ceil(u64::from(request.limit)),
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
            limit: self.limit,
            total_pages: self.total_pages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn defaults_to_first_page_of_twenty() {
        let p = PageRequest::new(None, None).unwrap();
        assert_eq!((p.page(), p.limit(), p.offset()), (1, 20, 0));
    }

    #[test]
    fn rejects_zero_page_and_out_of_range_limit_together() {
        let err = PageRequest::new(Some(0), Some(101)).unwrap_err();
        let DomainError::Validation(v) = err;
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["page", "limit"]);
        assert!(PageRequest::new(Some(1), Some(0)).is_err());
    }

    proptest! {
        #[test]
        fn total_pages_covers_every_item(total in 0u64..1_000_000, limit in 1u32..=100) {
            let req = PageRequest::new(Some(1), Some(limit)).unwrap();
            let page: Page<()> = Page::new(vec![], total, req);
            prop_assert!(page.total_pages * u64::from(limit) >= total);
            prop_assert!(page.total_pages == 0 || (page.total_pages - 1) * u64::from(limit) < total);
        }

        #[test]
        fn offset_never_overflows(page in 1u32..=u32::MAX, limit in 1u32..=100) {
            let req = PageRequest::new(Some(page), Some(limit)).unwrap();
            prop_assert_eq!(req.offset(), u64::from(page - 1) * u64::from(limit));
        }
    }
}
