//! `lock_all`: several `Lock`s at once, without deadlock (C++'s `std::lock`).
//!
//! (Being written: see issue [8/8].)
