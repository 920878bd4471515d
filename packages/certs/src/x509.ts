// @peculiar/x509 resolves its algorithm registry through tsyringe, which needs the Reflect metadata API loaded
// first; importing the library only through this module keeps that order and installs Node's WebCrypto once.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

export { x509 };
// The tsconfig has no DOM lib, so the WebCrypto types come from Node's own declarations.
export type WebCryptoKey = webcrypto.CryptoKey;
export type WebCryptoKeyPair = webcrypto.CryptoKeyPair;
