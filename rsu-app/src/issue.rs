//! Issuing a sale, the one way the CLI and the kiosk both sell: commit it with its receipt
//! checked inside the transaction, let the caller show it, then print it and confirm the print
//! (docs/design.md §5). A sale is never printed before it is committed, and a receipt that could
//! not print completely refuses the sale before the commit.

use rsu_print::{PaperWidth, PrintReport};
use rsu_store::{Sale, SaleRequest, Store, StoreError};
use std::convert::Infallible;

use crate::printer::{receipt_check, IssueError, Printer};

/// A sale committed and its receipt confirmed printed.
#[derive(Debug)]
pub struct Issued {
    /// The sale as it is now (`printed`).
    pub sale: Sale,
    /// What the printer reported; `None` without a printer (the CLI showed the receipt on the
    /// terminal and confirmed it).
    pub report: Option<PrintReport>,
}

/// Why [`issue_sale`] did not end with a printed receipt (boxed: it carries the whole sale).
#[derive(Debug)]
pub enum SaleError<E = Infallible> {
    /// The store refused the sale: nothing was sold.
    Refused(StoreError),
    /// The sale is committed but the caller's `committed` step failed, so nothing was printed:
    /// the receipt is still waiting to print.
    Interrupted { sale: Sale, error: E },
    /// The sale is committed but its receipt is not confirmed printed (recorded `print_failed`
    /// when the printer failed): it is reprinted or spoiled before selling goes on.
    NotPrinted { sale: Sale, error: IssueError },
}

/// Sells `req` on `store` and prints its receipt on `printer`. `committed` runs between the
/// commit and the print (the kiosk shows "printing", the CLI the receipt text). Without a printer
/// the receipt is checked for 80 mm paper and the sale confirmed printed once `committed` has
/// shown it.
pub fn issue_sale<E>(
    store: &mut Store,
    printer: Option<&Printer>,
    req: &SaleRequest,
    committed: impl FnOnce(&Store, &Sale) -> Result<(), E>,
) -> Result<Issued, Box<SaleError<E>>> {
    let width = printer
        .map(|p| p.config.paper_width)
        .unwrap_or(PaperWidth::Mm80);
    let sale = store
        .sell_checked(req, receipt_check(width))
        .map_err(|e| Box::new(SaleError::Refused(e)))?;
    // Signed once, now: every print and reprint carries this text (demo: none, the QR then
    // carries the validation number alone).
    crate::receipt_qr::sign_and_store(store, &sale);
    if let Err(error) = committed(store, &sale) {
        return Err(Box::new(SaleError::Interrupted { sale, error }));
    }
    match printer {
        None => match store.mark_printed(sale.id) {
            Ok(sale) => Ok(Issued { sale, report: None }),
            Err(e) => Err(Box::new(SaleError::NotPrinted {
                sale,
                error: IssueError::Store(e),
            })),
        },
        Some(p) => match p.issue(store, &sale, None) {
            Ok((sale, report)) => Ok(Issued {
                sale,
                report: Some(report),
            }),
            Err(error) => Err(Box::new(SaleError::NotPrinted { sale, error })),
        },
    }
}
