/** Known answers computed outside the sensor's code, shared by the unit and CLI tests. */

/** Pseudonyms as `'anon:' + hmac.new(key, address, hashlib.sha256).hexdigest()[:16]` prints them in Python 3. */
export const KEY_1 = 'a site secret of some length';
export const KEY_2 = 'another site secret, other key';
export const PSEUDONYMS: Record<string, Record<string, string>> = {
  [KEY_1]: {
    '10.0.0.1': 'anon:afe88444b6672488',
    '10.0.0.2': 'anon:719339906e4cfd5a',
    '10.0.0.3': 'anon:1ce75db72a023dc3',
    '10.0.0.4': 'anon:e0fe9d99bdbb6671',
    '10.0.0.9': 'anon:88a013e8f904820a',
    '2001:db8::1': 'anon:e373e0427ad5b7ad',
  },
  [KEY_2]: {
    '10.0.0.1': 'anon:235b5bfee0e04b43',
    '10.0.0.2': 'anon:945203c40477cd6f',
    '2001:db8::1': 'anon:e2f163dd52fa5665',
  },
};
