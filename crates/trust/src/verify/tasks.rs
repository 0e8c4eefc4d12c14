// SPDX-License-Identifier: Apache-2.0
//! Task planning (spec §8.3 step 1–2, §9 modes) and the signatures each task considers.

use std::collections::BTreeMap;

use stockade_sif::{DataType, Descriptor, Link, ReadAt, SifImage};

use super::report::{Failure, Task};
use super::{Selection, VerifyOptions};

/// Every used non-signature object must be in a group.
pub(super) fn check_grouping<S: ReadAt>(img: &SifImage<S>) -> Result<(), Failure> {
    if img.descriptors().is_empty() {
        return Err(Failure::NoObjects);
    }
    match img
        .descriptors()
        .iter()
        .find(|d| d.data_type() != DataType::SIGNATURE && d.group().is_none())
    {
        Some(d) => Err(Failure::Ungrouped(d.id())),
        None => Ok(()),
    }
}

/// The tasks `opts` asks for.
pub(super) fn plan<S: ReadAt>(
    img: &SifImage<S>,
    opts: &VerifyOptions,
) -> Result<Vec<Task>, Failure> {
    let groups = img.groups();
    let check_group = |g: u32| {
        if groups.contains(&g) {
            Ok(g)
        } else {
            Err(Failure::GroupNotFound(g))
        }
    };
    let check_object = |id: u32| img.find(id).ok_or(Failure::ObjectNotFound(id));
    let all_groups = || {
        if groups.is_empty() {
            Err(Failure::NoGroups)
        } else {
            Ok(groups.clone())
        }
    };
    let tasks = match (&opts.selection, opts.legacy) {
        (Selection::Default | Selection::All, false) => {
            all_groups()?.into_iter().map(Task::Group).collect()
        }
        (Selection::Groups(gs), false) => gs
            .iter()
            .map(|g| check_group(*g).map(Task::Group))
            .collect::<Result<_, _>>()?,
        (Selection::Objects(ids), false) => {
            let mut by_group: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
            for id in ids {
                let d = check_object(*id)?;
                let g = d.group().ok_or(Failure::Ungrouped(*id))?;
                by_group.entry(g).or_default().push(*id);
            }
            by_group
                .into_iter()
                .map(|(group, mut ids)| {
                    ids.sort_unstable();
                    ids.dedup();
                    Task::Objects { group, ids }
                })
                .collect()
        }
        (Selection::Default, true) => {
            let d = img.primary_partition().ok_or(Failure::NoPrimaryPartition)?;
            vec![Task::LegacyObject(d.id())]
        }
        (Selection::All, true) => {
            let mut ids: Vec<u32> = img
                .descriptors()
                .iter()
                .filter(|d| d.data_type() != DataType::SIGNATURE && d.group().is_some())
                .map(Descriptor::id)
                .collect();
            ids.sort_unstable();
            ids.into_iter().map(Task::LegacyObject).collect()
        }
        (Selection::Groups(gs), true) => gs
            .iter()
            .map(|g| check_group(*g).map(Task::LegacyGroup))
            .collect::<Result<_, _>>()?,
        (Selection::Objects(ids), true) => ids
            .iter()
            .map(|id| check_object(*id).map(|d| Task::LegacyObject(d.id())))
            .collect::<Result<_, _>>()?,
    };
    if tasks.is_empty() {
        return Err(Failure::NoGroups);
    }
    Ok(tasks)
}

/// The link a task's signatures carry.
pub(super) fn task_link(task: &Task) -> Link {
    match task {
        Task::Group(g) | Task::Objects { group: g, .. } | Task::LegacyGroup(g) => Link::Group(*g),
        Task::LegacyObject(id) => Link::Object(*id),
    }
}

/// Signature descriptors linked as `link`, in descriptor-table order.
pub(super) fn linked_signatures<S: ReadAt>(img: &SifImage<S>, link: Link) -> Vec<&Descriptor> {
    img.descriptors()
        .iter()
        .filter(|d| d.data_type() == DataType::SIGNATURE && d.link() == link)
        .collect()
}
