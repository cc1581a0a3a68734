//! Long lists a page at a time: which page is shown, how many there are, and the links to
//! the pages before and after.

/// The position in a paged list, for `templates/_pager.html`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// Page `page` (from 1) of `total` rows, `per_page` to a page; the links are `base`
    /// (ending in `?` or `&`) followed by `page=N`.
    pub fn new(page: i64, per_page: i64, total: i64, base: &str) -> Pager {
        let pages = ((total + per_page - 1) / per_page).max(1);
        let link = |p: i64| format!("{base}page={p}");
        Pager {
            page,
            pages,
            total,
            prev: (page > 1).then(|| link((page - 1).min(pages))),
            next: (page < pages).then(|| link(page + 1)),
        }
    }

    /// Whether there is more than one page.
    pub fn paged(&self) -> bool {
        self.pages > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_before_and_after() {
        let p = Pager::new(2, 50, 120, "/alerts?");
        assert_eq!(p.pages, 3);
        assert_eq!(p.prev.as_deref(), Some("/alerts?page=1"));
        assert_eq!(p.next.as_deref(), Some("/alerts?page=3"));
        let one = Pager::new(1, 50, 0, "/x?q=a&");
        assert!(!one.paged());
        assert_eq!((one.prev, one.next), (None, None));
        // Past the end: back to the last page.
        assert_eq!(
            Pager::new(9, 50, 120, "/alerts?").prev.as_deref(),
            Some("/alerts?page=3")
        );
    }
}
