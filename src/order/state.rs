//! The fulfilment state machine and the order status derived from it. Pure:
//! every legal move is in [`transition`], everything else is refused with the
//! moves that are legal.

use crate::text_enum;

text_enum! {
    /// How a fulfilment reaches the customer.
    pub enum Method {
        Ship => "ship",
        Pickup => "pickup",
        Curbside => "curbside",
        SameDay => "same_day",
        Counter => "counter",
    }
}

text_enum! {
    pub enum FulfilmentStatus {
        Allocated => "allocated",
        Picking => "picking",
        Packed => "packed",
        Shipped => "shipped",
        ReadyForPickup => "ready_for_pickup",
        OutForDelivery => "out_for_delivery",
        Delivered => "delivered",
        Collected => "collected",
        Cancelled => "cancelled",
        Expired => "expired",
        NeedsAttention => "needs_attention",
    }
}

text_enum! {
    /// What moves a fulfilment; each is an explicit endpoint (or a job).
    pub enum Action {
        StartPicking => "start_picking",
        Pack => "pack",
        Ship => "ship",
        MarkReady => "mark_ready",
        SendOut => "send_out",
        Deliver => "deliver",
        Collect => "collect",
        Cancel => "cancel",
        Expire => "expire",
        Reallocate => "reallocate",
    }
}

text_enum! {
    /// An order's status, derived from its fulfilments.
    pub enum OrderStatus {
        Placed => "placed",
        InProgress => "in_progress",
        ReadyForPickup => "ready_for_pickup",
        Fulfilled => "fulfilled",
        Cancelled => "cancelled",
        Expired => "expired",
        NeedsAttention => "needs_attention",
    }
}

/// Where a fulfilment can go from `from`. `transfer`: a pickup whose stock
/// comes from another location and travels to the store first.
pub fn moves(method: Method, transfer: bool, from: FulfilmentStatus) -> Vec<(Action, FulfilmentStatus)> {
    use Action as A;
    use FulfilmentStatus as S;
    let collecting = matches!(method, Method::Pickup | Method::Curbside);
    match from {
        S::Allocated => vec![(A::StartPicking, S::Picking), (A::Cancel, S::Cancelled)],
        S::Picking => vec![(A::Pack, S::Packed), (A::Cancel, S::Cancelled)],
        S::Packed => {
            let onward = match method {
                Method::Ship => (A::Ship, S::Shipped),
                Method::SameDay => (A::SendOut, S::OutForDelivery),
                _ if transfer => (A::Ship, S::Shipped),
                _ => (A::MarkReady, S::ReadyForPickup),
            };
            vec![onward, (A::Cancel, S::Cancelled)]
        }
        S::Shipped if collecting => vec![(A::MarkReady, S::ReadyForPickup)],
        S::Shipped => vec![(A::Deliver, S::Delivered)],
        S::ReadyForPickup => vec![(A::Collect, S::Collected), (A::Expire, S::Expired), (A::Cancel, S::Cancelled)],
        S::OutForDelivery => vec![(A::Deliver, S::Delivered)],
        S::NeedsAttention => vec![(A::Reallocate, S::Allocated), (A::Cancel, S::Cancelled)],
        S::Delivered | S::Collected | S::Cancelled | S::Expired => Vec::new(),
    }
}

/// The status `action` leads to, or the actions that are legal instead.
pub fn transition(
    method: Method,
    transfer: bool,
    from: FulfilmentStatus,
    action: Action,
) -> Result<FulfilmentStatus, Vec<Action>> {
    let legal = moves(method, transfer, from);
    legal.iter().find(|(a, _)| *a == action).map(|(_, to)| *to).ok_or_else(|| legal.iter().map(|(a, _)| *a).collect())
}

/// Whether the goods have left the customer's reach for good (nothing more will happen).
fn done(method: Method, status: FulfilmentStatus) -> bool {
    use FulfilmentStatus as S;
    match status {
        S::Delivered | S::Collected | S::Cancelled | S::Expired => true,
        S::Shipped => method == Method::Ship,
        _ => false,
    }
}

/// The order's status from its fulfilments' (method, status).
pub fn order_status(fulfilments: &[(Method, FulfilmentStatus)]) -> OrderStatus {
    use FulfilmentStatus as S;
    let all = |f: &dyn Fn(&(Method, FulfilmentStatus)) -> bool| fulfilments.iter().all(f);
    let any = |s: S| fulfilments.iter().any(|(_, status)| *status == s);
    if fulfilments.is_empty() || all(&|(_, s)| *s == S::Cancelled) {
        OrderStatus::Cancelled
    } else if any(S::NeedsAttention) {
        OrderStatus::NeedsAttention
    } else if all(&|(m, s)| done(*m, *s)) {
        if fulfilments
            .iter()
            .any(|(m, s)| matches!(s, S::Delivered | S::Collected) || (*m == Method::Ship && *s == S::Shipped))
        {
            OrderStatus::Fulfilled
        } else {
            OrderStatus::Expired
        }
    } else if all(&|(_, s)| matches!(s, S::Allocated | S::Cancelled)) {
        OrderStatus::Placed
    } else if any(S::ReadyForPickup) && all(&|(m, s)| *s == S::ReadyForPickup || done(*m, *s)) {
        OrderStatus::ReadyForPickup
    } else {
        OrderStatus::InProgress
    }
}

/// The status that marks stock leaving its location: the reservation is committed.
pub fn commits_stock(to: FulfilmentStatus) -> bool {
    matches!(to, FulfilmentStatus::Shipped | FulfilmentStatus::OutForDelivery | FulfilmentStatus::Collected)
}

/// The statuses that give held stock back.
pub fn releases_stock(to: FulfilmentStatus) -> bool {
    matches!(to, FulfilmentStatus::Cancelled | FulfilmentStatus::Expired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action as A;
    use FulfilmentStatus as S;

    /// Every (method, transfer, from, action) and where it leads, if anywhere.
    #[test]
    fn the_whole_table() {
        let legal: &[(Method, bool, S, A, S)] = &[
            (Method::Ship, false, S::Allocated, A::StartPicking, S::Picking),
            (Method::Ship, false, S::Picking, A::Pack, S::Packed),
            (Method::Ship, false, S::Packed, A::Ship, S::Shipped),
            (Method::Ship, false, S::Shipped, A::Deliver, S::Delivered),
            (Method::Pickup, false, S::Packed, A::MarkReady, S::ReadyForPickup),
            (Method::Pickup, true, S::Packed, A::Ship, S::Shipped),
            (Method::Pickup, true, S::Shipped, A::MarkReady, S::ReadyForPickup),
            (Method::Curbside, false, S::ReadyForPickup, A::Collect, S::Collected),
            (Method::Pickup, false, S::ReadyForPickup, A::Expire, S::Expired),
            (Method::SameDay, false, S::Packed, A::SendOut, S::OutForDelivery),
            (Method::SameDay, false, S::OutForDelivery, A::Deliver, S::Delivered),
            (Method::Ship, false, S::NeedsAttention, A::Reallocate, S::Allocated),
            (Method::Ship, false, S::Allocated, A::Cancel, S::Cancelled),
            (Method::Ship, false, S::Picking, A::Cancel, S::Cancelled),
            (Method::Ship, false, S::Packed, A::Cancel, S::Cancelled),
            (Method::Pickup, false, S::ReadyForPickup, A::Cancel, S::Cancelled),
        ];
        let mut count = 0;
        for &method in Method::ALL {
            for transfer in [false, true] {
                for &from in S::ALL {
                    for &action in A::ALL {
                        let got = transition(method, transfer, from, action).ok();
                        if let Some((.., to)) = legal
                            .iter()
                            .find(|(m, t, f, a, _)| *m == method && *t == transfer && *f == from && *a == action)
                        {
                            assert_eq!(got, Some(*to), "{method} {transfer} {from} {action}");
                            count += 1;
                        } else if got.is_some() {
                            // Legal moves not listed above must be the generic ones.
                            let generic = matches!(
                                (from, action),
                                (S::Allocated, A::StartPicking | A::Cancel)
                                    | (S::Picking, A::Pack | A::Cancel)
                                    | (S::Packed, A::Cancel | A::Ship | A::MarkReady | A::SendOut)
                                    | (S::Shipped, A::Deliver | A::MarkReady)
                                    | (S::ReadyForPickup, A::Collect | A::Expire | A::Cancel)
                                    | (S::OutForDelivery, A::Deliver)
                                    | (S::NeedsAttention, A::Reallocate | A::Cancel)
                            );
                            assert!(generic, "unexpected legal move {method} {transfer} {from} {action}");
                        }
                    }
                }
            }
        }
        assert_eq!(count, legal.len());
        assert_eq!(transition(Method::Ship, false, S::Shipped, A::Cancel), Err(vec![A::Deliver]));
        assert_eq!(transition(Method::Ship, false, S::Packed, A::MarkReady), Err(vec![A::Ship, A::Cancel]));
        assert!(transition(Method::Pickup, false, S::Collected, A::Cancel).unwrap_err().is_empty());
    }

    #[test]
    fn order_status_follows_the_fulfilments() {
        use Method as M;
        assert_eq!(order_status(&[(M::Ship, S::Allocated)]), OrderStatus::Placed);
        assert_eq!(order_status(&[(M::Ship, S::Picking), (M::Pickup, S::Allocated)]), OrderStatus::InProgress);
        assert_eq!(order_status(&[(M::Pickup, S::ReadyForPickup)]), OrderStatus::ReadyForPickup);
        assert_eq!(order_status(&[(M::Pickup, S::Collected), (M::Ship, S::Shipped)]), OrderStatus::Fulfilled);
        assert_eq!(order_status(&[(M::Pickup, S::Shipped)]), OrderStatus::InProgress);
        assert_eq!(order_status(&[(M::Pickup, S::Expired)]), OrderStatus::Expired);
        assert_eq!(order_status(&[(M::Ship, S::Cancelled), (M::Ship, S::Cancelled)]), OrderStatus::Cancelled);
        assert_eq!(order_status(&[(M::Ship, S::NeedsAttention), (M::Ship, S::Allocated)]), OrderStatus::NeedsAttention);
    }
}
