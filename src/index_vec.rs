//! Typed indices: ids that are newtypes of `u32` ([`define_id!`]) and the vectors they index
//! ([`IndexVec`]), so that an attribute id cannot index the policies and no `as usize` is
//! written where an id is used. Indexing an [`IndexVec`] is the one place such an id is
//! used without a check: ids are made by [`IndexVec::push`] (or [`IndexVec::next_id`]) on
//! the vector they index, and nothing is ever removed from it. (Clippy's
//! `indexing_slicing` still counts `v[id]`, since an `IndexVec` has a `get`: the library
//! reads with `get` or through an accessor that carries the allow and its reason.)

use std::marker::PhantomData;

/// An id that indexes an [`IndexVec`].
pub trait Idx: Copy {
    fn from_usize(i: usize) -> Self;
    fn index(self) -> usize;
}

/// Defines an id: a `u32` newtype, ordered and hashed as its number, that implements
/// [`Idx`]. Its number converts both ways with `u32` (`u32::from(id)`, `Id::from(n)`):
/// for formats that write ids as numbers (a bundle file, a message), and for readers
/// that check the number against what it indexes ([`IndexVec::get`]).
macro_rules! define_id {
    ($(#[$meta:meta])* $vis:vis struct $name:ident;) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis struct $name(u32);

        impl $crate::index_vec::Idx for $name {
            #[inline]
            fn from_usize(i: usize) -> Self {
                $name(u32::try_from(i).unwrap_or(u32::MAX))
            }
            #[inline]
            fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl From<$name> for u32 {
            #[inline]
            fn from(id: $name) -> u32 {
                id.0
            }
        }

        impl From<u32> for $name {
            #[inline]
            fn from(n: u32) -> $name {
                $name(n)
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
    #[inline]
    pub fn new() -> Self {
        IndexVec::from_vec(Vec::new())
    }

    #[inline]
    pub fn with_capacity(n: usize) -> Self {
        IndexVec::from_vec(Vec::with_capacity(n))
    }

    /// The vector whose element `i` has the id `i`.
    #[inline]
    pub fn from_vec(raw: Vec<T>) -> Self {
        IndexVec {
            raw,
            _id: PhantomData,
        }
    }

    /// `n` copies of `value`: a table parallel to one of `n` elements.
    pub fn from_elem_n(value: T, n: usize) -> Self
    where
        T: Clone,
    {
        IndexVec::from_vec(vec![value; n])
    }

    /// Adds `value`; returns its id.
    #[inline]
    pub fn push(&mut self, value: T) -> I {
        let id = self.next_id();
        self.raw.push(value);
        id
    }

    /// The id the next [`push`](Self::push) returns.
    #[inline]
    pub fn next_id(&self) -> I {
        I::from_usize(self.raw.len())
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    #[inline]
    pub fn get(&self, id: I) -> Option<&T> {
        self.raw.get(id.index())
    }

    #[inline]
    pub fn get_mut(&mut self, id: I) -> Option<&mut T> {
        self.raw.get_mut(id.index())
    }

    #[inline]
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.raw.iter()
    }

    #[inline]
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.raw.iter_mut()
    }

    /// The elements in id order, as a slice (indexed by position, not by id).
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        &self.raw
    }

    /// Every id of the vector, in order.
    #[inline]
    pub fn indices(&self) -> impl DoubleEndedIterator<Item = I> + ExactSizeIterator {
        (0..self.raw.len()).map(I::from_usize)
    }

    /// Each element with its id, in id order.
    #[inline]
    pub fn iter_enumerated(&self) -> impl DoubleEndedIterator<Item = (I, &T)> + ExactSizeIterator {
        self.raw
            .iter()
            .enumerate()
            .map(|(i, t)| (I::from_usize(i), t))
    }

    /// Each element, mutable, with its id, in id order.
    #[inline]
    pub fn iter_enumerated_mut(&mut self) -> impl Iterator<Item = (I, &mut T)> {
        self.raw
            .iter_mut()
            .enumerate()
            .map(|(i, t)| (I::from_usize(i), t))
    }
}

impl<I: Idx, T> Default for IndexVec<I, T> {
    #[inline]
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
    #[inline]
    #[allow(
        clippy::indexing_slicing,
        reason = "ids are made by `push` or `next_id` on the vector they index, which never shrinks"
    )]
    fn index(&self, id: I) -> &T {
        &self.raw[id.index()]
    }
}

impl<I: Idx, T> std::ops::IndexMut<I> for IndexVec<I, T> {
    #[inline]
    #[allow(
        clippy::indexing_slicing,
        reason = "ids are made by `push` or `next_id` on the vector they index, which never shrinks"
    )]
    fn index_mut(&mut self, id: I) -> &mut T {
        &mut self.raw[id.index()]
    }
}

impl<I: Idx, T> FromIterator<T> for IndexVec<I, T> {
    #[inline]
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Self {
        IndexVec::from_vec(iter.into_iter().collect())
    }
}

impl<I: Idx, T> From<Vec<T>> for IndexVec<I, T> {
    #[inline]
    fn from(raw: Vec<T>) -> Self {
        IndexVec::from_vec(raw)
    }
}

impl<I: Idx, T> Extend<T> for IndexVec<I, T> {
    #[inline]
    fn extend<It: IntoIterator<Item = T>>(&mut self, iter: It) {
        self.raw.extend(iter);
    }
}

impl<'a, I: Idx, T> IntoIterator for &'a IndexVec<I, T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.raw.iter()
    }
}

impl<'a, I: Idx, T> IntoIterator for &'a mut IndexVec<I, T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.raw.iter_mut()
    }
}

impl<I: Idx, T> IntoIterator for IndexVec<I, T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.raw.into_iter()
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
