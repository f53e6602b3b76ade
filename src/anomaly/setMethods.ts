/**
 * How `sensor anomaly-fit --balance-sets` meets the rate with the calibration sets' flagged shares (calibrate.py
 * SET_METHODS; models/ANOMALY.md "Round anomaly7" and "Round anomaly11"): balanced (their mean), median (the median
 * set's), geometric (their geometric mean), extremes (the lowest and highest set's centred on the rate in ratio).
 */
export const SET_METHODS = ['balanced', 'median', 'geometric', 'extremes'] as const;
export type SetMethod = (typeof SET_METHODS)[number];
