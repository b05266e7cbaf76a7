//! Fair admission of connections that hold resources before they are worth anything:
//! unfinished handshakes on the control socket, sessions on the management socket, and
//! `--stream` connections that have not sent a whole frame yet (each holds a port).
//!
//! All are bounded per peer and in all. The peer a connection is charged to (its "user" `U`
//! here) is the uid from `SO_PEERCRED` on unix sockets, and the remote address for TCP.
//!
//! Handshakes and sessions use [`Admission::admit`]: a user's cap is a hard bound. Pending
//! stream connections can legitimately wait long (a VM booting), so they use
//! [`Admission::needs_room`], [`Admission::evict_for`] and [`Admission::add`]: one is evicted
//! only when room is needed (the cap in all, or no free port), and then a user at its own
//! cap gives up its own first. A host starting many VMs at once keeps them all while there
//! is room. A newcomer is never refused:
//! when it does not fit, the connection idle the longest of the heaviest user goes instead
//! (the newcomer's own user when that user is at its own cap). So one local user holding
//! a thousand silent connections only ever displaces its own, and a client of anybody else
//! is served at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Instant;

/// How many connections may be held, in all and by one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub all: usize,
    pub per_user: usize,
}

/// What the console shows about one kind of admitted connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Held now.
    pub now: usize,
    /// The most held at once since the switch started.
    pub max_seen: usize,
    /// Evicted to make room for a newcomer.
    pub evicted: u64,
    pub caps_all: usize,
    pub caps_per_user: usize,
}

#[derive(Debug, Clone, Copy)]
struct Entry<U> {
    uid: U,
    /// When it last sent anything (or was accepted).
    active: Instant,
}

/// The connections held, each named by `K`, with the users (peers) `U` they are charged to.
#[derive(Debug)]
pub struct Admission<K, U = u32> {
    caps: Caps,
    entries: HashMap<K, Entry<U>>,
    per_uid: HashMap<U, usize>,
    max_seen: usize,
    evicted: u64,
}

impl<K: Copy + Eq + Hash, U: Copy + Eq + Hash> Admission<K, U> {
    pub fn new(caps: Caps) -> Admission<K, U> {
        Admission {
            caps: Caps {
                all: caps.all.max(1),
                per_user: caps.per_user.max(1),
            },
            entries: HashMap::new(),
            per_uid: HashMap::new(),
            max_seen: 0,
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `key` is held.
    pub fn contains(&self, key: K) -> bool {
        self.entries.contains_key(&key)
    }

    /// How many `uid` holds.
    pub fn of_user(&self, uid: U) -> usize {
        self.per_uid.get(&uid).copied().unwrap_or(0)
    }

    pub fn stats(&self) -> Stats {
        Stats {
            now: self.entries.len(),
            max_seen: self.max_seen,
            evicted: self.evicted,
            caps_all: self.caps.all,
            caps_per_user: self.caps.per_user,
        }
    }

    /// Admit `key` of `uid`. Returns the connection that must go to make room for it (already
    /// forgotten here; the caller closes it), with its user.
    pub fn admit(&mut self, key: K, uid: U, now: Instant) -> Option<(K, U)> {
        let victim = self.make_room(uid);
        self.insert(key, uid, now);
        victim
    }

    /// Make room for one more connection of `uid`: the connection that must go, forgotten and
    /// counted as evicted.
    fn make_room(&mut self, uid: U) -> Option<(K, U)> {
        let victim = self.victim(uid);
        if let Some((v, _)) = victim {
            self.remove(v);
            self.evicted += 1;
        }
        victim
    }

    /// Who must go so one more connection of `uid` fits: the oldest idle one of `uid` if
    /// `uid` is at its cap, else, when all are taken, the oldest idle one of the user holding
    /// the most (of those, the one idle the longest).
    fn victim(&self, uid: U) -> Option<(K, U)> {
        if self.of_user(uid) >= self.caps.per_user {
            self.oldest(|u| u == uid)
        } else if self.entries.len() >= self.caps.all {
            self.heaviest()
        } else {
            None
        }
    }

    /// The connection idle the longest of the user holding the most (of those users, the
    /// one whose oldest idle connection is the oldest).
    fn heaviest(&self) -> Option<(K, U)> {
        let most = self.per_uid.values().copied().max()?;
        let from = self.oldest(|u| self.of_user(u) == most)?.1;
        self.oldest(|u| u == from)
    }

    /// Whether one must go before another is added (the cap in all is reached).
    pub fn needs_room(&self) -> bool {
        self.entries.len() >= self.caps.all
    }

    /// Evict one connection because a newcomer of `uid` (`None`: not one of ours, e.g. a
    /// client of another socket wanting a port) needs room or what the connection holds (a
    /// port, when none is free): the one idle the longest of `uid` when `uid` is at its own
    /// cap, else of the heaviest user. Forgotten here and counted as evicted; the caller
    /// closes it. `None` when nothing is held.
    pub fn evict_for(&mut self, uid: Option<U>) -> Option<(K, U)> {
        let victim = match uid {
            Some(u) if self.of_user(u) >= self.caps.per_user => self.oldest(|x| x == u),
            _ => self.heaviest(),
        }?;
        self.remove(victim.0);
        self.evicted += 1;
        Some(victim)
    }

    /// Hold `key` of `uid` without looking at the caps (the caller made room as needed).
    pub fn add(&mut self, key: K, uid: U, now: Instant) {
        self.insert(key, uid, now);
    }

    /// The connection idle the longest among those of users `of`.
    fn oldest(&self, of: impl Fn(U) -> bool) -> Option<(K, U)> {
        self.entries
            .iter()
            .filter(|(_, e)| of(e.uid))
            .min_by_key(|(_, e)| e.active)
            .map(|(&k, e)| (k, e.uid))
    }

    fn insert(&mut self, key: K, uid: U, now: Instant) {
        if let Some(old) = self.entries.insert(key, Entry { uid, active: now }) {
            self.forget_user(old.uid);
        }
        *self.per_uid.entry(uid).or_default() += 1;
        self.max_seen = self.max_seen.max(self.entries.len());
    }

    /// `key` sent something: it is no longer idle.
    pub fn touch(&mut self, key: K, now: Instant) {
        if let Some(e) = self.entries.get_mut(&key) {
            e.active = now;
        }
    }

    /// `key` is gone (served, refused, closed or evicted); whether it was held.
    pub fn remove(&mut self, key: K) -> bool {
        match self.entries.remove(&key) {
            Some(e) => {
                self.forget_user(e.uid);
                true
            }
            None => false,
        }
    }

    fn forget_user(&mut self, uid: U) {
        if let Some(n) = self.per_uid.get_mut(&uid) {
            *n -= 1;
            if *n == 0 {
                self.per_uid.remove(&uid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn a_user_at_its_cap_displaces_its_own_oldest_idle() {
        let t = Instant::now();
        let mut a = Admission::new(Caps {
            all: 100,
            per_user: 3,
        });
        assert_eq!(a.admit(1, 7, at(t, 0)), None);
        assert_eq!(a.admit(2, 7, at(t, 1)), None);
        assert_eq!(a.admit(3, 7, at(t, 2)), None);
        // 1 sent something since: 2 is now the oldest idle.
        a.touch(1, at(t, 3));
        assert_eq!(a.admit(4, 7, at(t, 4)), Some((2, 7)));
        assert_eq!(a.of_user(7), 3);
        // Another user is not affected by 7 being at its cap.
        assert_eq!(a.admit(10, 8, at(t, 5)), None);
        assert_eq!(a.len(), 4);
        assert_eq!(a.stats().evicted, 1);
    }

    #[test]
    fn when_all_are_taken_the_heaviest_user_gives_way() {
        let t = Instant::now();
        let mut a = Admission::new(Caps {
            all: 4,
            per_user: 4,
        });
        a.admit(1, 5, at(t, 0));
        a.admit(2, 6, at(t, 1));
        a.admit(3, 6, at(t, 2));
        a.admit(4, 6, at(t, 3));
        // User 5 holds the oldest, but user 6 holds the most.
        assert_eq!(a.admit(5, 9, at(t, 4)), Some((2, 6)));
        assert_eq!((a.of_user(5), a.of_user(6), a.of_user(9)), (1, 2, 1));
        assert_eq!(a.len(), 4);
        assert_eq!(a.stats().max_seen, 4);
    }

    #[test]
    fn removing_twice_or_an_unknown_key_changes_nothing() {
        let mut a = Admission::new(Caps {
            all: 2,
            per_user: 2,
        });
        a.admit(1, 5, Instant::now());
        assert!(a.remove(1));
        assert!(!a.remove(1));
        assert!(!a.remove(42));
        assert!(a.is_empty());
        assert_eq!(a.of_user(5), 0);
    }

    #[test]
    fn users_can_be_remote_addresses() {
        use std::net::IpAddr;
        let t = Instant::now();
        let flood: IpAddr = "127.0.0.2".parse().unwrap();
        let vm: IpAddr = "127.0.0.1".parse().unwrap();
        let mut a: Admission<i32, IpAddr> = Admission::new(Caps {
            all: 5,
            per_user: 3,
        });
        for k in 0..10 {
            // Past its cap of 3, the flooding address displaces its own oldest.
            let evicted = a.admit(k, flood, at(t, k as u64));
            assert_eq!(evicted, (k >= 3).then(|| (k - 3, flood)), "at {k}");
        }
        assert_eq!(a.admit(100, vm, at(t, 20)), None);
        assert_eq!((a.of_user(flood), a.of_user(vm), a.len()), (3, 1, 4));
        assert_eq!(a.stats().evicted, 7);
    }

    #[test]
    fn evicting_for_a_newcomer_takes_the_heaviest_users_oldest_idle() {
        let t = Instant::now();
        let mut a: Admission<i32, u32> = Admission::new(Caps {
            all: 100,
            per_user: 100,
        });
        assert_eq!(a.evict_for(None), None, "nothing held, nothing to evict");
        a.admit(1, 5, at(t, 0));
        a.admit(2, 6, at(t, 1));
        a.admit(3, 6, at(t, 2));
        a.touch(2, at(t, 3));
        // 5 holds the oldest, 6 holds the most: 6's idle the longest (3, since 2 spoke).
        assert_eq!(a.evict_for(None), Some((3, 6)));
        // Now 5 and 6 hold one each: the one idle the longest of them all goes.
        assert_eq!(a.evict_for(Some(7)), Some((1, 5)));
        assert_eq!(a.evict_for(None), Some((2, 6)));
        assert_eq!(a.evict_for(None), None);
        assert!(a.is_empty());
        assert_eq!(a.stats().evicted, 3);
        assert_eq!(a.stats().max_seen, 3);
    }

    #[test]
    fn with_add_a_user_may_go_past_its_cap_until_room_is_needed() {
        let t = Instant::now();
        let mut a: Admission<i32, u32> = Admission::new(Caps {
            all: 6,
            per_user: 2,
        });
        // A host starting four VMs at once keeps them all: nobody needs the room.
        for k in 0..4 {
            assert!(!a.needs_room());
            a.add(k, 5, at(t, k as u64));
        }
        a.add(10, 6, at(t, 10));
        a.add(11, 6, at(t, 11));
        assert_eq!((a.of_user(5), a.of_user(6), a.stats().evicted), (4, 2, 0));
        assert!(a.needs_room());
        // Full: a newcomer of 6, at its own cap, displaces its own oldest, not 5's, although
        // 5 holds the most.
        assert_eq!(a.evict_for(Some(6)), Some((10, 6)));
        a.add(12, 6, at(t, 12));
        // A newcomer of 7 (under its cap) displaces the heaviest user's oldest idle.
        assert_eq!(a.evict_for(Some(7)), Some((0, 5)));
        a.add(20, 7, at(t, 20));
        assert_eq!((a.of_user(5), a.of_user(6), a.of_user(7)), (3, 2, 1));
        assert_eq!(a.len(), 6);
    }
}
