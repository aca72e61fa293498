//! Typed indices: ids that are newtypes of `u32` ([`define_id!`]) and the vectors they index
//! ([`IndexVec`]), so that an attribute id cannot index the policies and no `as usize` is
//! written where an id is used. Indexing an [`IndexVec`] is the one place such an id is
//! used without a check: ids are made by [`IndexVec::push`] (or [`IndexVec::next_id`]) on
//! the vector they index, and nothing is ever removed from it.

use std::marker::PhantomData;

/// An id that indexes an [`IndexVec`].
pub trait Idx: Copy {
    fn from_usize(i: usize) -> Self;
    fn index(self) -> usize;
}

/// Defines an id: a `u32` newtype, ordered and hashed as its number, that implements
/// [`Idx`].
macro_rules! define_id {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis struct $name(u32);

        impl $crate::index_vec::Idx for $name {
            fn from_usize(i: usize) -> Self {
                $name(u32::try_from(i).unwrap_or(u32::MAX))
            }
            fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}
pub(crate) use define_id;

/// A vector indexed by the id `I`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IndexVec<I, T> {
    raw: Vec<T>,
    _id: PhantomData<fn(&I)>,
}

impl<I: Idx, T> IndexVec<I, T> {
    pub fn new() -> Self {
        IndexVec {
            raw: Vec::new(),
            _id: PhantomData,
        }
    }

    /// Adds `value`; returns its id.
    pub fn push(&mut self, value: T) -> I {
        let id = self.next_id();
        self.raw.push(value);
        id
    }

    /// The id the next [`push`](Self::push) returns.
    pub fn next_id(&self) -> I {
        I::from_usize(self.raw.len())
    }

    pub fn len(&self) -> usize {
        self.raw.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    pub fn get(&self, id: I) -> Option<&T> {
        self.raw.get(id.index())
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.raw.iter()
    }

    /// Each element with its id, in id order.
    pub fn iter_enumerated(&self) -> impl Iterator<Item = (I, &T)> {
        self.raw
            .iter()
            .enumerate()
            .map(|(i, t)| (I::from_usize(i), t))
    }
}

impl<I: Idx, T> Default for IndexVec<I, T> {
    fn default() -> Self {
        IndexVec::new()
    }
}

impl<I, T: std::fmt::Debug> std::fmt::Debug for IndexVec<I, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.raw.fmt(f)
    }
}

impl<I: Idx, T> std::ops::Index<I> for IndexVec<I, T> {
    type Output = T;
    #[allow(
        clippy::indexing_slicing,
        reason = "ids are made by `push` or `next_id` on the vector they index, which never shrinks"
    )]
    fn index(&self, id: I) -> &T {
        &self.raw[id.index()]
    }
}

impl<I: Idx, T> std::ops::IndexMut<I> for IndexVec<I, T> {
    #[allow(
        clippy::indexing_slicing,
        reason = "ids are made by `push` or `next_id` on the vector they index, which never shrinks"
    )]
    fn index_mut(&mut self, id: I) -> &mut T {
        &mut self.raw[id.index()]
    }
}

impl<I: Idx, T> FromIterator<T> for IndexVec<I, T> {
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Self {
        IndexVec {
            raw: iter.into_iter().collect(),
            _id: PhantomData,
        }
    }
}

impl<'a, I: Idx, T> IntoIterator for &'a IndexVec<I, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.raw.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    define_id! {
        struct Id;
    }

    #[test]
    fn ids_index_what_made_them() {
        let mut v: IndexVec<Id, &str> = IndexVec::new();
        let a = v.push("a");
        let b = v.push("b");
        assert_eq!((v[a], v[b], v.len()), ("a", "b", 2));
        assert!(a < b);
        assert_eq!(
            v.iter_enumerated().map(|(i, _)| i).collect::<Vec<_>>(),
            [a, b]
        );
        assert_eq!(v.get(Id::from_usize(2)), None);
    }
}
