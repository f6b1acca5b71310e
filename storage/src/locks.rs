//! Lock helpers: a poisoned lock (a panic while it was held) is still
//! used, since every structure behind these locks stays consistent at
//! each step; a panic is reported where it happens, not at every later
//! access.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}
