//! Identifiers: UUIDv7, time-ordered so inserts stay local in B-trees.

use uuid::Uuid;

/// A new time-ordered id, made on the device or the server.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_version_7_and_increase() {
        let a = super::new_id();
        let b = super::new_id();
        assert_eq!(a.get_version_num(), 7);
        assert!(b > a);
    }
}
