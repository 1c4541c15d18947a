-- The signed QR text of a sale's receipt (docs/design.md §4, issue 12): made once at sale time
-- with the device key, so every reprint carries the same text even after a key rotation. NULL
-- when the device was not enrolled (demo) or its key could not be read: the QR then carries the
-- validation number alone. Not part of the sale's journal payload or any hash.
ALTER TABLE sales ADD COLUMN receipt_qr TEXT;
