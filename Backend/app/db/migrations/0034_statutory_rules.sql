-- Wages (docs/wages.md): Kenya's statutory deductions as data, one row per version of
-- each item, in force from its date until the next version of the same item. A change
-- in the law is a new row (a migration), never an edit: a pay run keeps the amounts it
-- computed, and older periods keep being computed with the rules of their day.
--
-- Amounts are monthly cents; rates are basis points (1/100 of a percent: 2.75 % = 275).
-- A weekly or daily pay prorates every amount (docs/wages.md, app/domain/wages.py).
--
-- nssf: 6 % of pay up to the lower earnings limit (Tier I) and 6 % of pay between the
--       lower and upper limits (Tier II), from the worker and the same from the employer.
-- shif: a percentage of gross pay with a monthly minimum, from the worker only.
-- ahl:  the Affordable Housing Levy, a percentage of gross pay from each side.
-- paye: income tax on taxable pay by the bands in paye_bands, less personal relief.
-- tax_deductible: the worker's share is taken off gross pay before PAYE.
CREATE TABLE statutory_rules (
    item             TEXT    NOT NULL CHECK (item IN ('nssf', 'shif', 'ahl', 'paye')),
    effective_from   DATE    NOT NULL,
    employee_rate_bp INTEGER NOT NULL CHECK (employee_rate_bp BETWEEN 0 AND 10000),
    employer_rate_bp INTEGER NOT NULL CHECK (employer_rate_bp BETWEEN 0 AND 10000),
    minimum          BIGINT  CHECK (minimum > 0),
    lower_limit      BIGINT  CHECK (lower_limit > 0),
    upper_limit      BIGINT  CHECK (upper_limit > lower_limit),
    relief           BIGINT  CHECK (relief >= 0),
    tax_deductible   BOOLEAN NOT NULL,
    -- The law or notice this version comes from (docs/wages.md gives the detail).
    source           TEXT    NOT NULL CHECK (length(source) BETWEEN 5 AND 200),
    PRIMARY KEY (item, effective_from),
    CHECK ((item = 'nssf') = (lower_limit IS NOT NULL AND upper_limit IS NOT NULL)),
    CHECK ((item = 'paye') = (relief IS NOT NULL)),
    CHECK (item <> 'paye' OR (employee_rate_bp = 0 AND employer_rate_bp = 0
                              AND NOT tax_deductible AND minimum IS NULL))
);

-- PAYE's bands of one version (the statutory_rules paye row of the same date), lowest
-- first: band n taxes taxable pay above band n-1's upper limit up to its own at
-- rate_bp; the top band alone has no upper limit.
CREATE TABLE paye_bands (
    item           TEXT     NOT NULL DEFAULT 'paye' CHECK (item = 'paye'),
    effective_from DATE     NOT NULL,
    band           SMALLINT NOT NULL CHECK (band BETWEEN 1 AND 20),
    upper_limit    BIGINT   CHECK (upper_limit > 0),
    rate_bp        INTEGER  NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000),
    PRIMARY KEY (effective_from, band),
    FOREIGN KEY (item, effective_from) REFERENCES statutory_rules (item, effective_from)
);

-- The versions in force from 27 December 2024, when the Tax Laws (Amendment) Act 2024
-- made SHIF and the levy deductible before PAYE; a pay date before it has no rules
-- (PayTrace does not compute earlier pay). Sources and dates: docs/wages.md.
-- NSSF: the NSSF Act 2013's phase-in, a new lower and upper earnings limit each February.
INSERT INTO statutory_rules
    (item, effective_from, employee_rate_bp, employer_rate_bp, lower_limit, upper_limit, tax_deductible, source)
VALUES ('nssf', '2024-02-01', 600, 600, 700000, 3600000, true, 'NSSF Act 2013 - limits from February 2024: LEL 7000 UEL 36000'),
       ('nssf', '2025-02-01', 600, 600, 800000, 7200000, true, 'NSSF Act 2013 - limits from February 2025: LEL 8000 UEL 72000'),
       ('nssf', '2026-02-01', 600, 600, 900000, 10800000, true, 'NSSF Act 2013 - limits from February 2026: LEL 9000 UEL 108000');
INSERT INTO statutory_rules
    (item, effective_from, employee_rate_bp, employer_rate_bp, minimum, tax_deductible, source)
VALUES ('shif', '2024-12-27', 275, 0, 30000, true, 'Social Health Insurance Act 2023 - 2.75 pct with KES 300 minimum - deductible by Tax Laws Amendment Act 2024');
INSERT INTO statutory_rules
    (item, effective_from, employee_rate_bp, employer_rate_bp, tax_deductible, source)
VALUES ('ahl', '2024-12-27', 150, 150, true, 'Affordable Housing Act 2024 - 1.5 pct each side - deductible by Tax Laws Amendment Act 2024');
INSERT INTO statutory_rules
    (item, effective_from, employee_rate_bp, employer_rate_bp, relief, tax_deductible, source)
VALUES ('paye', '2024-12-27', 0, 0, 240000, false, 'Income Tax Act - monthly bands of the Finance Act 2023 and personal relief KES 2400');
INSERT INTO paye_bands (effective_from, band, upper_limit, rate_bp)
VALUES ('2024-12-27', 1, 2400000, 1000),
       ('2024-12-27', 2, 3233300, 2500),
       ('2024-12-27', 3, 50000000, 3000),
       ('2024-12-27', 4, 80000000, 3250),
       ('2024-12-27', 5, NULL, 3500);
